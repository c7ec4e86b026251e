"""Tests of numpy_ops that the conformance suite's bounds are too loose to
make: run by TestPythonUnitTests (go test ./backend/numpy), or alone with
/usr/bin/python3 -B -m unittest numpy_ops_test in this directory."""

import math
import unittest

import numpy as np

import numpy_ops


class PhiTest(unittest.TestCase):
    def test_relative_error_below_1_2e_7(self):
        # Both tails, 0, and far out, where Phi underflows to 0 or rounds to 1.
        x = np.concatenate([np.linspace(-12, 12, 48001), [-40, 40, 0, 1e-30, -1e-30]])
        want = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
        got = numpy_ops._phi_cdf(x)
        rel = np.abs(got - want) / np.maximum(want, 1e-300)
        self.assertLess(rel.max(), 1.2e-7, "worst at x = %g" % x[rel.argmax()])


if __name__ == "__main__":
    unittest.main()

package backend

// Temps holds the handles a function makes for its own use — scratch tensors
// and reshaped views — and releases them together, typically deferred:
//
//	tmp := backend.Temps{B: b}
//	defer tmp.Release()
//	h := tmp.New(rows, cols)
//
// Errors are the backend's sticky error, as for every call.
type Temps struct {
	B  Backend
	hs []*Tensor
}

// New allocates a float32 scratch tensor.
func (s *Temps) New(shape ...int) *Tensor { return s.Keep(s.B.New(F32, shape...)) }

// View returns t with another shape: t itself when the shape is its own,
// else a reshaped handle.
func (s *Temps) View(t *Tensor, shape ...int) *Tensor {
	if t.Shape().Equal(shape) {
		return t
	}
	return s.Keep(Reshape(t, shape...))
}

// Keep adds t to the handles to release, and returns it.
func (s *Temps) Keep(t *Tensor) *Tensor {
	s.hs = append(s.hs, t)
	return t
}

// Release releases every handle held.
func (s *Temps) Release() {
	for _, h := range s.hs {
		s.B.Release(h)
	}
	s.hs = nil
}

// reduce.glsl: workgroup reductions through shared memory. The workgroup
// size must be a power of two. Every invocation of the workgroup must call
// them (they contain barriers); each returns the result to all invocations.

shared float red[gl_WorkGroupSize.x];

float wgSum(float v) {
    uint l = gl_LocalInvocationID.x;
    red[l] = v;
    memoryBarrierShared();
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (l < s) {
            red[l] += red[l + s];
        }
        memoryBarrierShared();
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

float wgMax(float v) {
    uint l = gl_LocalInvocationID.x;
    red[l] = v;
    memoryBarrierShared();
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (l < s) {
            red[l] = max(red[l], red[l + s]);
        }
        memoryBarrierShared();
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

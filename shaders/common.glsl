// common.glsl: declarations every kernel shares.
//
// Conventions (the host side is backend/vulkan):
//   - Every tensor argument is bound as a whole memory block (one storage
//     buffer per binding, binding i = the op's argument i), and its first
//     element's index in that block comes in the push constants.
//   - Specialisation constant 0 is the workgroup size (local_size_x_id = 0);
//     further constants (1, 2, ...) select a variant or a tile size.
//   - Grids: 1-D kernels stride over their elements (for i = global id; i < n;
//     i += all invocations), so any n fits in a capped number of workgroups;
//     row kernels take one workgroup per row over a 2-D grid, because a row
//     count can pass the 65,535 limit of one dimension.

layout(local_size_x_id = 0) in;

#define WG gl_WorkGroupSize.x

// groupIndex is the linear index of this workgroup in a 2-D grid.
uint groupIndex() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// gridStride is the number of invocations of a 1-D dispatch.
uint gridStride() { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }

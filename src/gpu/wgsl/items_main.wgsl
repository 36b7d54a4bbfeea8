// The entry point of the one-thread-per-item kernels: 256 threads per workgroup over a 1-D
// grid folded into x, y; calls the kernel's `fn item(i: u32)` for each `i < p(0)` (parameter
// word 0 is the item count in every such kernel).
@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i < p(0u)) {
        item(i);
    }
}

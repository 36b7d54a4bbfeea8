// SUM_ROWS: sum of each row of `[rows, len]`, one workgroup per row (grid folded into x, y):
// 256 strided partial sums, then a tree. Parameters: p = [rows, len].
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wid.y * nwg.x + wid.x;
    let rows = p(0u);
    let len = p(1u);
    var s = 0.0;
    if (row < rows) {
        for (var j = lid; j < len; j += 256u) {
            s += a[row * len + j];
        }
    }
    part[lid] = s;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w = w / 2u) {
        if (lid < w) {
            part[lid] += part[lid + w];
        }
        workgroupBarrier();
    }
    if (lid == 0u && row < rows) {
        out[row] = part[0];
    }
}

// GEMM and GEMM_SKINNY (after gemm_rows4.wgsl or gemm_rows1.wgsl, which define `ROWS`): the
// batched GEMM `C_z = op(A_z)·op(B_z)`, for a tile of `16·ROWS` rows and 64 columns.
// Parameters: p = [M, N, K, trans_a, trans_b, batch stride of A, of B, of C, workgroup offset
// along x, y, z] (a stride of 0 shares the operand); grid `[⌈N/64⌉, ⌈M/(16·ROWS)⌉, batch]`,
// dispatched in chunks of at most 65535 workgroups per axis, the offsets saying where a chunk
// starts. Each of the 16×16 threads computes `ROWS` rows × 4 columns, strided by 16 so
// neighbouring threads touch neighbouring elements; K goes in steps of 16 through workgroup
// memory.
const TILE_M: u32 = 16u * ROWS;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> tile_a: array<f32, TILE_M * 16u>; // [TILE_M rows][16 k]
var<workgroup> tile_b: array<f32, 1024>;         // [16 k][64 cols]

fn load_a(z: u32, r: u32, k: u32) -> f32 {
    let m = p(0u);
    let kk = p(2u);
    if (r >= m || k >= kk) {
        return 0.0;
    }
    let at = select(r * kk + k, k * m + r, p(3u) != 0u);
    return a[z * p(5u) + at];
}

fn load_b(z: u32, k: u32, col: u32) -> f32 {
    let n = p(1u);
    let kk = p(2u);
    if (k >= kk || col >= n) {
        return 0.0;
    }
    let at = select(k * n + col, col * kk + k, p(4u) != 0u);
    return b[z * p(6u) + at];
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let m = p(0u);
    let n = p(1u);
    let kk = p(2u);
    let z = wid.z + p(10u);
    let row0 = (wid.y + p(9u)) * TILE_M;
    let col0 = (wid.x + p(8u)) * 64u;
    let t = lid.y * 16u + lid.x;
    var acc: array<f32, ROWS * 4u>;
    for (var k0 = 0u; k0 < kk; k0 += 16u) {
        for (var q = 0u; q < ROWS; q++) {
            let e = t + q * 256u;
            tile_a[e] = load_a(z, row0 + e / 16u, k0 + e % 16u);
        }
        for (var q = 0u; q < 4u; q++) {
            let e = t + q * 256u;
            tile_b[e] = load_b(z, k0 + e / 64u, col0 + e % 64u);
        }
        workgroupBarrier();
        for (var k = 0u; k < 16u; k++) {
            var av: array<f32, ROWS>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < ROWS; i++) {
                av[i] = tile_a[(lid.y + 16u * i) * 16u + k];
            }
            for (var j = 0u; j < 4u; j++) {
                bv[j] = tile_b[k * 64u + lid.x + 16u * j];
            }
            for (var i = 0u; i < ROWS; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < ROWS; i++) {
        for (var j = 0u; j < 4u; j++) {
            let r = row0 + lid.y + 16u * i;
            let col = col0 + lid.x + 16u * j;
            if (r < m && col < n) {
                c[z * p(7u) + r * n + col] = acc[i * 4u + j];
            }
        }
    }
}

// SRneXt's 26 layers in one CPU operator: each layer is two passes over the image, row by row.
//
// Why: in PyTorch a layer is a dozen operators, each a pass over a 35-channel map that does too little
// arithmetic per byte to reach the processor's peak; here a row's layer norm, mixers and 1×1 convolutions
// run while the row is in the cache. Maps are kept row-planar ([N][H][C][WC]: each row a C×WC block,
// WC the width rounded up to the vector width), so every step is a vector operation over pixels, the
// 1×1 convolutions are register-blocked products over rows of pixels, and the spatial shifts and the
// mixers' taps are loads at an offset from zero-padded row buffers.
//
// Pass 1 (gate):  mid = x + proj(b),  b = a + a·c(a),  a = n + h(n)·w(n),  n = norm1(x)
// Pass 2 (MLP):   out = mid + fc2(shift(silu(fc1(shift(norm2(mid))))))
// Every value is computed by the same float32 operations as the network's operators, in another order
// of summation, so the output differs from PyTorch's by round-off only.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#ifndef SRNEXT_DIM
#define SRNEXT_DIM 35
#endif
#ifndef SRNEXT_KS
#define SRNEXT_KS 15
#endif

namespace {

#if defined(__AVX512F__)
constexpr int VW = 16, OB = 7;  // 7 channels × 3 vectors: 21 accumulators of 32 registers; 35 and 70 in whole blocks
#else
constexpr int VW = 8, OB = 4;   // 4 × 3: 12 accumulators of 16 registers
#endif
constexpr int NV = 3;           // vectors of pixels per product step (the row's last steps take one)
constexpr int C = SRNEXT_DIM, C2 = 2 * SRNEXT_DIM, KS = SRNEXT_KS, PAD = SRNEXT_KS / 2;
constexpr int L = 16;            // zero columns left of a padded row (≥ PAD, aligned)
constexpr int PARAMS = 16;       // tensors per layer

typedef float V __attribute__((vector_size(VW * 4)));
typedef int VI __attribute__((vector_size(VW * 4)));

inline V ld(const float* p) { V v; __builtin_memcpy(&v, p, sizeof v); return v; }
inline void st(float* p, V v) { __builtin_memcpy(p, &v, sizeof v); }

// exp on a vector (Cephes' expf: range reduction by ln 2, degree-6 polynomial; within 2 ulp)
inline V vexp(V x) {
  const V hi = V{} + 88.3762626647949f, lo = V{} - 87.3365447504f;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const V n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest
  V r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  const V p = ((((((V{} + 1.9875691500e-4f) * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r
                 + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * r * r + r + 1.0f;
  const VI e = (__builtin_convertvector(n, VI) + 127) << 23;
  return p * (V)e;
}

struct Buffer {  // zeroed, 64-byte aligned scratch
  float* p;
  explicit Buffer(size_t n) {
    const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    p = static_cast<float*>(std::aligned_alloc(64, bytes));
    TORCH_CHECK(p != nullptr, "SRneXt kernel: out of memory");
    std::memset(p, 0, bytes);
  }
  ~Buffer() { std::free(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

// For output channels [o0, o0+R) and the S vectors of pixels from x: acc = Σ_k w[o][k] · in[k][x…], then
// epi(o, x, acc) for each vector. in[k] points at input channel k of a row (possibly shifted, or at a zero row); w is
// the convolution's own (out, in) weight.
template <int R, int S, int K, class Epi>
__attribute__((always_inline)) inline void product_step(const float* const* in, const float* w, int o0, int x, Epi& epi) {
  V acc[R][S];
  for (int o = 0; o < R; ++o)
    for (int j = 0; j < S; ++j) acc[o][j] = V{};
  for (int k = 0; k < K; ++k) {
    V a[S];
    for (int j = 0; j < S; ++j) a[j] = ld(in[k] + x + j * VW);
    for (int o = 0; o < R; ++o) {
      const float wk = w[(o0 + o) * K + k];
      for (int j = 0; j < S; ++j) acc[o][j] += a[j] * wk;
    }
  }
  for (int o = 0; o < R; ++o)
    for (int j = 0; j < S; ++j) epi(o0 + o, x + j * VW, acc[o][j]);
}

// Every output channel at the S vectors of pixels from x, so those input pixels are read from memory once and
// from the L1 cache by each block of output channels.
template <int S, int K, int O, class Epi>
__attribute__((always_inline)) inline void product_column(const float* const* in, const float* w, int x, Epi& epi) {
  constexpr int full = O / OB, rest = O % OB;
  for (int b = 0; b < full; ++b) product_step<OB, S, K>(in, w, b * OB, x, epi);
  if constexpr (rest > 0) product_step<rest, S, K>(in, w, full * OB, x, epi);
}

// The 1×1 convolution of one row: out[o][x] = Σ_k w[o][k] in[k][x], each value handed to epi.
template <int K, int O, class Epi>
inline void product(const float* const* in, const float* w, int wc, Epi epi) {
  const int whole = wc - wc % (NV * VW);
  for (int x = 0; x < whole; x += NV * VW) product_column<NV, K, O>(in, w, x, epi);
  for (int x = whole; x < wc; x += VW) product_column<1, K, O>(in, w, x, epi);
}

struct Layer {  // one layer's parameters, in the order the Python side passes them
  const float *g1, *b1, *wh, *bh, *ww, *bw, *wc, *bc, *wp, *bp, *g2, *b2, *w1, *b1f, *w2, *b2f;
};

struct Geometry {
  int H, W, wc, ws;        // height, width, padded width, padded row stride
  size_t plane() const { return static_cast<size_t>(C) * wc; }
};

// Layer norm over the channels of one row [C][wc] into a padded row [C][ws] (data from column L); the columns
// from W on are zeroed, as the convolutions that read the normalised map zero-pad it.
void layer_norm(const float* in, const Geometry& g, const float* gamma, const float* beta, float* out, float* tmp) {
  float* mean = tmp;
  float* inv = tmp + g.wc;
  const int wc = g.wc;
  for (int x = 0; x < wc; ++x) mean[x] = inv[x] = 0.f;
  for (int c = 0; c < C; ++c)
    for (int x = 0; x < wc; ++x) mean[x] += in[c * wc + x];
  for (int x = 0; x < wc; ++x) mean[x] /= C;
  for (int c = 0; c < C; ++c)
    for (int x = 0; x < wc; ++x) {
      const float d = in[c * wc + x] - mean[x];
      inv[x] += d * d;
    }
  for (int x = 0; x < wc; ++x) inv[x] = 1.0f / std::sqrt(inv[x] / C + 1e-5f);
  for (int c = 0; c < C; ++c) {
    float* o = out + c * g.ws + L;
    for (int x = 0; x < wc; ++x) o[x] = (in[c * wc + x] - mean[x]) * inv[x] * gamma[c] + beta[c];
    for (int x = g.W; x < wc; ++x) o[x] = 0.f;
  }
}

// Pass 1 for rows [ya, yb): the normalised rows live in a ring of 16 padded rows (the vertical mixer reads 15).
void gate_rows(const float* x, float* mid, const Geometry& g, int ya, int yb, const Layer& p) {
  const int wc = g.wc, ws = g.ws;
  const size_t plane = g.plane();
  Buffer ring(16 * static_cast<size_t>(C) * ws), zero(ws), abuf(plane), bbuf(plane), tmp(2 * static_cast<size_t>(wc));
  auto slot = [&](int r) { return ring.p + static_cast<size_t>(r & 15) * C * ws; };
  for (int r = std::max(0, ya - PAD); r < std::min(g.H, ya + PAD); ++r) layer_norm(x + r * plane, g, p.g1, p.b1, slot(r), tmp.p);
  const float* ap[C];
  const float* bp[C];
  for (int c = 0; c < C; ++c) { ap[c] = abuf.p + c * wc; bp[c] = bbuf.p + c * wc; }
  for (int y = ya; y < yb; ++y) {
    if (y + PAD < g.H) layer_norm(x + (y + PAD) * plane, g, p.g1, p.b1, slot(y + PAD), tmp.p);
    const float* n = slot(y);
    for (int c = 0; c < C; ++c) {  // a = n + h(n)·w(n)
      const float* rows[KS];
      for (int k = 0; k < KS; ++k) {
        const int r = y + k - PAD;
        rows[k] = (r < 0 || r >= g.H) ? zero.p : slot(r) + c * ws + L;
      }
      const float* nc = n + c * ws + L;
      const float* wh = p.wh + c * KS;
      const float* ww = p.ww + c * KS;
      float* a = abuf.p + c * wc;
      for (int i = 0; i < wc; i += VW) {
        V h = V{} + p.bh[c], w = V{} + p.bw[c];
        for (int k = 0; k < KS; ++k) {
          h += ld(rows[k] + i) * wh[k];
          w += ld(nc + i + k - PAD) * ww[k];
        }
        st(a + i, ld(nc + i) + h * w);
      }
    }
    const float* xr = x + y * plane;
    float* mr = mid + y * plane;
    float* b = bbuf.p;
    const float* a = abuf.p;
    product<C, C>(ap, p.wc, wc, [&](int o, int i, V v) __attribute__((always_inline)) {  // b = a + a·c(a)
      const V ai = ld(a + o * wc + i);
      st(b + o * wc + i, ai + ai * (v + p.bc[o]));
    });
    product<C, C>(bp, p.wp, wc, [&](int o, int i, V v) __attribute__((always_inline)) {  // mid = x + proj(b)
      st(mr + o * wc + i, ld(xr + o * wc + i) + (v + p.bp[o]));
    });
  }
}

// The shift's five channel groups (right, left, down, up, none): where channel c of the shifted row reads.
inline void shifted(const float** out, int channels, const float* prev, const float* cur, const float* next,
                    int ws, const float* zero) {
  const int g = channels / 5;
  for (int c = 0; c < channels; ++c) {
    const float* q;
    if (c < g) q = cur + c * ws + L + 1;
    else if (c < 2 * g) q = cur + c * ws + L - 1;
    else if (c < 3 * g) q = next ? next + c * ws + L : zero;
    else if (c < 4 * g) q = prev ? prev + c * ws + L : zero;
    else q = cur + c * ws + L;
    out[c] = q;
  }
}

// Pass 2 for rows [ya, yb): fc1's output row t needs norm2 rows t-1…t+1, output row y needs fc1 rows y-1…y+1;
// both live in rings of 4 padded rows.
void mlp_rows(const float* mid, float* out, const Geometry& g, int ya, int yb, const Layer& p) {
  const int wc = g.wc, ws = g.ws;
  const size_t plane = g.plane();
  Buffer n2(4 * static_cast<size_t>(C) * ws), f(4 * static_cast<size_t>(C2) * ws), zero(ws), tmp(2 * static_cast<size_t>(wc));
  auto nrow = [&](int r) -> const float* { return (r < 0 || r >= g.H) ? nullptr : n2.p + static_cast<size_t>(r & 3) * C * ws; };
  auto frow = [&](int r) -> float* { return (r < 0 || r >= g.H) ? nullptr : f.p + static_cast<size_t>(r & 3) * C2 * ws; };
  const float* in[C2];
  int next = std::max(0, ya - 2);
  for (int t = ya - 1; t <= yb; ++t) {
    if (t >= 0 && t < g.H) {  // fc1 row t = silu(fc1(shift(norm2(mid))))
      for (; next <= std::min(t + 1, g.H - 1); ++next) layer_norm(mid + next * plane, g, p.g2, p.b2, n2.p + static_cast<size_t>(next & 3) * C * ws, tmp.p);
      shifted(in, C, nrow(t - 1), nrow(t), nrow(t + 1), ws, zero.p);
      float* fr = frow(t) + L;
      product<C, C2>(in, p.w1, wc, [&](int o, int i, V v) __attribute__((always_inline)) {
        v += p.b1f[o];
        st(fr + o * ws + i, v / (1.0f + vexp(-v)));
      });
      for (int o = 0; o < C2; ++o) std::fill(fr + o * ws + g.W, fr + o * ws + wc, 0.f);
    }
    const int y = t - 1;
    if (y >= ya && y < yb) {  // out row y = mid + fc2(shift(fc1 rows))
      shifted(in, C2, frow(y - 1), frow(y), frow(y + 1), ws, zero.p);
      const float* mr = mid + y * plane;
      float* orow = out + y * plane;
      product<C2, C>(in, p.w2, wc, [&](int o, int i, V v) __attribute__((always_inline)) {
        st(orow + o * wc + i, ld(mr + o * wc + i) + (v + p.b2f[o]));
      });
    }
  }
}

// x: the head's output, N×C×H×W float32; params: 16 contiguous tensors per layer (see Layer). Returns the body's
// output (without the long skip), N×C×H×W with row-planar strides.
at::Tensor body(const at::Tensor& x, at::TensorList params) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == C && x.scalar_type() == at::kFloat && x.device().is_cpu(),
              "SRneXt kernel: expects a float32 CPU tensor N×", C, "×H×W, got ", x.sizes(), " ", x.scalar_type());
  TORCH_CHECK(params.size() % PARAMS == 0, "SRneXt kernel: ", PARAMS, " tensors per layer, got ", params.size());
  const int64_t sizes[PARAMS] = {C, C, C * KS, C, C * KS, C, C * C, C, C * C, C, C, C, C2 * C, C2, C * C2, C};
  for (size_t i = 0; i < params.size(); ++i)
    TORCH_CHECK(params[i].is_contiguous() && params[i].scalar_type() == at::kFloat && params[i].numel() == sizes[i % PARAMS],
                "SRneXt kernel: parameter ", i, " must be a contiguous float32 tensor of ", sizes[i % PARAMS], " values");
  const int N = x.size(0), H = x.size(2), W = x.size(3), wc = (W + VW - 1) / VW * VW;
  const Geometry g{H, W, wc, L + wc + 16};
  at::Tensor a = at::constant_pad_nd(x, {0, wc - W}).permute({0, 2, 1, 3}).contiguous();
  at::Tensor mid = at::empty_like(a), b = at::empty_like(a);
  const size_t image = g.plane() * H;
  const int threads = at::get_num_threads();
  const int rows = std::max(8, (H + threads - 1) / threads);  // one slab per thread: each recomputes 7 + 2 halo rows
  const int slabs = (H + rows - 1) / rows;
  for (size_t l = 0; l < params.size() / PARAMS; ++l) {
    auto q = [&](int i) { return params[l * PARAMS + i].data_ptr<float>(); };
    const Layer p{q(0), q(1), q(2), q(3), q(4), q(5), q(6), q(7), q(8), q(9), q(10), q(11), q(12), q(13), q(14), q(15)};
    const float* src = a.data_ptr<float>();
    float* m = mid.data_ptr<float>();
    float* dst = b.data_ptr<float>();
    at::parallel_for(0, static_cast<int64_t>(N) * slabs, 1, [&](int64_t s, int64_t e) {
      for (int64_t j = s; j < e; ++j) {
        const int n = j / slabs, ya = (j % slabs) * rows;
        gate_rows(src + n * image, m + n * image, g, ya, std::min(H, ya + rows), p);
      }
    });
    at::parallel_for(0, static_cast<int64_t>(N) * slabs, 1, [&](int64_t s, int64_t e) {
      for (int64_t j = s; j < e; ++j) {
        const int n = j / slabs, ya = (j % slabs) * rows;
        mlp_rows(m + n * image, dst + n * image, g, ya, std::min(H, ya + rows), p);
      }
    });
    std::swap(a, b);
  }
  return a.narrow(3, 0, W).permute({0, 2, 1, 3});
}

}  // namespace

TORCH_LIBRARY(SRNEXT_LIBRARY, m) {
  m.def("srnext_body(Tensor x, Tensor[] params) -> Tensor");
  m.impl("srnext_body", c10::DispatchKey::CPU, &body);
}

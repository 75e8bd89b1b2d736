// Convolution backward-weights: groups over o, summed over output pixels, one (kh, kw, c)
// tap per accumulator; more than 16 output channels run as slices of 16, one after the
// other. Partial sums per chunk of the batch, cut from the geometry alone and added in
// chunk order, so the result is bit-identical for any thread count.
//
// x (N,H,W,C), dy (N,OH,OW,O), dw (KH,KW,C,O) and dbias (O) accumulated into.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_BACKWARD_WEIGHTS_H_
#define DN_KERNELS_SIMD_BACKWARD_WEIGHTS_H_
#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {

constexpr int kBandRows = 4;  // output rows per pass over the taps, whose inputs stay in L1

inline bool direct_backward_weights_fits(const ConvGeometry& g) { return !pointwise(g); }

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_BACKWARD_WEIGHTS_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_BACKWARD_WEIGHTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_BACKWARD_WEIGHTS_INL_H_
#undef DN_KERNELS_SIMD_BACKWARD_WEIGHTS_INL_H_
#else
#define DN_KERNELS_SIMD_BACKWARD_WEIGHTS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

// Weight-gradient groups accumulated per pass over the pixels, beside the bias's (dy's is
// the operand group cap() leaves room for); and in a pass that leaves the bias to another.
constexpr int kMaxWeightAcc = cap(24, 1, 1);
constexpr int kMaxWeightAccNoBias = cap(24, 1);

struct WeightPass {
  const float* x;   // padded sample under the band's first output pixel, at the pass's first tap
  Index row_step;   // floats between the padded inputs of neighbouring output rows
  Index step;       // ... of neighbouring output pixels
  Index tap_row;    // floats between padded rows (kernel rows one apart)
  const float* dy;  // the band's first output pixel, at the slice's first channel
  int rows, OW, O;
  int lanes;               // channels in the slice (16 but in the last)
  const float* whole_end;  // dy groups read whole up to here: they end inside the band
  float* acc;              // the pass's R * T vectors
  float* bias_acc;         // the vector summing dy, or null
};

// Accumulates R kernel rows of T consecutive (kw, c) taps each: in a padded row these
// inputs are consecutive floats, so every load has a compile-time offset. BIAS: the
// pass also sums dy into p.bias_acc (a pass without keeps that group's registers).
template <int R, bool BIAS = true>
struct Weights {
  template <int T>
  struct Kernel {
    static void run(const WeightPass& p) {
      V acc[R][T];
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int t = 0; t < T; ++t) acc[r][t] = Load(p.acc + (r * T + t) * kLanes);
      V bias = BIAS && p.bias_acc ? Load(p.bias_acc) : Zero();
      const float* dy = p.dy;
      // dy is read as whole groups while they end inside the band: the lanes past the
      // slice only reach accumulator lanes that add_chunks leaves out. (AVX2's masked
      // loads are slow.)
      for (int row = 0; row < p.rows; ++row) {
        const float* x = p.x + row * p.row_step;
        for (int ow = 0; ow < p.OW; ++ow, dy += p.O, x += p.step) {
          const V d = dy <= p.whole_end ? LoadU(dy) : LoadFirst(p.lanes, dy);
#pragma GCC unroll 32
          for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
            for (int t = 0; t < T; ++t)
              acc[r][t] = MulAdd(x[r * p.tap_row + t], d, acc[r][t]);
          if constexpr (BIAS) bias = Add(bias, d);
        }
      }
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int t = 0; t < T; ++t) Store(acc[r][t], p.acc + (r * T + t) * kLanes);
      if (BIAS && p.bias_acc) Store(bias, p.bias_acc);
    }
  };
};

// Chunks of partial weight gradients: chunk k sums output rows [rows * k / count,
// rows * (k + 1) / count) of the batch. Each holds the taps' vectors and bias vectors.
struct WeightChunks {
  int count;
  Index size;  // floats per chunk
  WeightChunks(int rows, Index acc_size, Index bias_size)
      : count(std::min(rows, kWeightChunks)), size(acc_size + bias_size) {}
  int first_row(int rows, int k) const { return static_cast<int>(Index(k) * rows / count); }
};

// chunk(k) for every chunk on the threads; then, in chunk order and each by the thread
// that made it, chunk k folded into chunk 0, and finish(one) (the sums as a single chunk)
// by the last. The sums are add_chunks's to the bit, but only the running sum crosses
// between cores, not every chunk to the one thread that would add them up.
template <class Chunk, class Finish>
void over_chunks(float* partials, const WeightChunks& chunks, const Chunk& chunk, const Finish& finish) {
#pragma omp parallel if (chunks.count > 1)
  {
#pragma omp for schedule(static)
    for (int k = 0; k < chunks.count; ++k) chunk(k);
#pragma omp for schedule(static) ordered
    for (int k = 0; k < chunks.count; ++k) {
#pragma omp ordered
      {
        const float* part = partials + k * chunks.size;
        if (k > 0)
          for (Index i = 0; i < chunks.size; i += kLanes) Store(Add(Load(partials + i), Load(part + i)), partials + i);
        if (k == chunks.count - 1) {
          WeightChunks one = chunks;
          one.count = 1;
          finish(one);
        }
      }
    }
  }
}

// dw (O lanes per tap) and dbias (bias_lanes lanes, if not null) += the chunks' sums,
// taken in chunk order. A chunk holds the taps' groups slice by slice (16 outputs
// each), then the bias groups.
inline void add_chunks(const float* partials, const WeightChunks& chunks, int taps, int O, float* dw, float* dbias,
                int bias_lanes) {
  auto add = [&](Index at, int n, float* dst) {
    V sum = Load(partials + at);
    for (int k = 1; k < chunks.count; ++k) sum = Add(sum, Load(partials + k * chunks.size + at));
    StoreFirst(n, Add(LoadFirst(n, dst), sum), dst);
  };
  const int slices = (O + kLanes - 1) / kLanes;
  for (int s = 0; s < slices; ++s)
    for (int t = 0; t < taps; ++t)
      add((Index(s) * taps + t) * kLanes, std::min(kLanes, O - s * kLanes), dw + Index(t) * O + s * kLanes);
  if (!dbias) return;
  for (int b = 0; b * kLanes < bias_lanes; ++b)
    add((Index(slices) * taps + b) * kLanes, std::min(kLanes, bias_lanes - b * kLanes), dbias + b * kLanes);
}

// The weight gradient of a convolution, accumulated one sample (or part of one) at a time.
struct WeightPlan {
  const ConvGeometry& g;
  int Hp, Wp, taps, row_taps, slices;
  int rows_per_pass;  // kernel rows accumulated at once (1 to 4); 0: a row is too long for that
  int rows_per_later_pass;  // ... in the passes after the first, which sum no bias

  explicit WeightPlan(const ConvGeometry& geometry)
      : g(geometry),
        Hp((g.OH - 1) * g.stride_h + g.KH),
        Wp((g.OW - 1) * g.stride_w + g.KW),
        taps(static_cast<int>(g.patch())),
        row_taps(g.KW * g.C),
        slices((g.O + kLanes - 1) / kLanes),
        rows_per_pass(std::min(4, kMaxWeightAcc / row_taps)),
        rows_per_later_pass(std::min(4, kMaxWeightAccNoBias / row_taps)) {}
  // Groups over o, in (slice, kh, kw, c) order; then the bias groups.
  Index acc_size() const { return Index(slices) * taps * kLanes; }
  Index bias_size() const { return Index(slices) * kLanes; }
  Index scratch_size() const { return Index(Hp) * Wp * g.C; }

  // The padded sample x [H,W,C] that run() reads; xp: scratch_size() floats.
  void pad(const float* x, float* xp) const { pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, g.C); }

  // acc += the gradient of the sample x [H,W,C] and its dy [OH,OW,O], bias_acc (if not
  // null) += the sum of dy; xp: scratch_size() floats.
  void accumulate(const float* x, const float* dy, float* acc, float* bias_acc, float* xp) const {
    pad(x, xp);
    run(xp, dy, 0, g.OH, acc, bias_acc);
  }
  // dw += the chunks' sums, dbias (if not null) += their bias sums' first bias_lanes.
  void finish(const float* partials, const WeightChunks& chunks, float* dw, float* dbias, int bias_lanes) const {
    add_chunks(partials, chunks, taps, g.O, dw, dbias, bias_lanes);
  }

  // acc += the gradient from output rows [oh0, oh1) of one sample, given its padded
  // input xp and its dy [OH,OW,O]; bias_acc (if not null) += the sum of those dy.
  void run(const float* xp, const float* dy, int oh0, int oh1, float* acc, float* bias_acc) const {
    for (int band = oh0; band < oh1; band += kBandRows)
      for (int s = 0; s < slices; ++s) {
        const int rows = std::min(kBandRows, oh1 - band);
        const float* dy_band = dy + Index(band) * g.OW * g.O;
        run_slice(WeightPass{xp + Index(band) * g.stride_h * Wp * g.C, Index(g.stride_h) * Wp * g.C,
                             Index(g.stride_w) * g.C, Index(Wp) * g.C, dy_band + s * kLanes, rows, g.OW, g.O,
                             std::min(kLanes, g.O - s * kLanes), dy_band + Index(rows) * g.OW * g.O - kLanes,
                             acc + Index(s) * taps * kLanes, bias_acc ? bias_acc + s * kLanes : nullptr});
      }
  }

  // One band's passes over the taps for one slice of outputs: several whole kernel rows
  // per pass where they fit the registers, else each kernel row in groups of taps. The
  // first pass also sums the bias gradient; the later ones have its registers for taps
  // (AVX2, one input channel: two kernel rows a pass instead of one, whose sums each
  // waited on the last multiply-add). Every tap's sum runs over the pixels in the same
  // order whichever pass holds it.
  void run_slice(WeightPass pass) const {
    const float* x0 = pass.x;
    float* acc = pass.acc;
    if (rows_per_pass > 0) {
      for (int kh = 0; kh < g.KH;) {
        pass.x = x0 + Index(kh) * Wp * g.C;
        pass.acc = acc + Index(kh) * row_taps * kLanes;
        const int rows = std::min(pass.bias_acc ? rows_per_pass : rows_per_later_pass, g.KH - kh);
        if (pass.bias_acc) {
          switch (rows) {
            case 1: dispatch<Weights<1>::Kernel, kMaxWeightAcc>(row_taps, pass); break;
            case 2: dispatch<Weights<2>::Kernel, kMaxWeightAcc / 2>(row_taps, pass); break;
            case 3: dispatch<Weights<3>::Kernel, kMaxWeightAcc / 3>(row_taps, pass); break;
            default: dispatch<Weights<4>::Kernel, kMaxWeightAcc / 4>(row_taps, pass); break;
          }
        } else {
          switch (rows) {
            case 1: dispatch<Weights<1, false>::Kernel, kMaxWeightAccNoBias>(row_taps, pass); break;
            case 2: dispatch<Weights<2, false>::Kernel, kMaxWeightAccNoBias / 2>(row_taps, pass); break;
            case 3: dispatch<Weights<3, false>::Kernel, kMaxWeightAccNoBias / 3>(row_taps, pass); break;
            default: dispatch<Weights<4, false>::Kernel, kMaxWeightAccNoBias / 4>(row_taps, pass); break;
          }
        }
        pass.bias_acc = nullptr;  // the first pass sums the bias gradient
        kh += rows;
      }
      return;
    }
    // A kernel row too long for one pass: in groups of taps, the bias beside the first.
    for (int kh = 0; kh < g.KH; ++kh) {
      const float* row_x = x0 + Index(kh) * Wp * g.C;
      float* row_acc = acc + Index(kh) * row_taps * kLanes;
      int t0 = 0;
      if (pass.bias_acc) {
        t0 = std::min(row_taps, kMaxWeightAcc);
        pass.x = row_x, pass.acc = row_acc;
        dispatch<Weights<1>::Kernel, kMaxWeightAcc>(t0, pass);
        pass.bias_acc = nullptr;
      }
      for_each_block(row_taps - t0, kMaxWeightAccNoBias, [&](int first, int T) {
        pass.x = row_x + t0 + first, pass.acc = row_acc + Index(t0 + first) * kLanes;
        dispatch<Weights<1, false>::Kernel, kMaxWeightAccNoBias>(T, pass);
      });
    }
  }
};

// The samples [n0, n1) of chunk k when chunks hold whole samples.
inline std::pair<int, int> chunk_samples(const ConvGeometry& g, const WeightChunks& chunks, int k) {
  return {static_cast<int>(Index(k) * g.N / chunks.count), static_cast<int>(Index(k + 1) * g.N / chunks.count)};
}

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_BACKWARD_WEIGHTS_INL_H_

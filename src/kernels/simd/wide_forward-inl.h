// Convolution forward for many channels (more than 16 in or out; Dense as a 1x1
// convolution over the batch): groups over output channels, a block of output pixels
// times a set of output groups accumulated in registers, each input value broadcast as a
// scalar from the input, which is read in place or from a copy padded spatially only.
// Every output pixel sums its taps in one fixed order, k = (kh, kw, c), from its bias on,
// whatever block, pass, chunk, batch or thread it falls in, so its bits depend on its
// own input and the weights alone.
//
// x (N,H,W,C), w (KH,KW,C,O), y (N,OH,OW,O); pads top/left per TensorFlow "same".

// Target-independent part.
#ifndef DN_KERNELS_SIMD_WIDE_FORWARD_H_
#define DN_KERNELS_SIMD_WIDE_FORWARD_H_
#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {
namespace detail {  // simd.hpp's wide_forward_fits calls this one

// The shapes the direct kernels leave: more than a group of channels on either side,
// any kernel size and stride.
inline bool wide_forward_fits(const ConvGeometry& g) { return g.C > kLanes || g.O > kLanes; }

}  // namespace detail

// Pointwise convolutions (Dense) run in chunks of pixels, and long sums in slices of k
// (near-equal, at most kWideSlice long) whose partial sums wait in memory, so that a
// slice of the chunk's inputs and of a pass's weights stay in cache while they are
// reused. A chunk holds kWideChunkFloats inputs of a slice, within [kWideMinChunk,
// kWideMaxChunk] pixels. All of it is cut from the geometry alone, and no cut changes a
// bit: a float sum stored and loaded again is the same float.
constexpr int kWideSlice = 512;
constexpr Index kWideChunkFloats = 16384;
constexpr Index kWideMinChunk = 32, kWideMaxChunk = 1024;

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_WIDE_FORWARD_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_WIDE_FORWARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_WIDE_FORWARD_INL_H_
#undef DN_KERNELS_SIMD_WIDE_FORWARD_INL_H_
#else
#define DN_KERNELS_SIMD_WIDE_FORWARD_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

// A block keeps P pixels x G output groups of accumulators, the G weight groups of the
// current k and one broadcast input: P = wide_pixels(G) fills the register file.
constexpr int kWideMaxGroups = 4;
constexpr int wide_pixels(int groups) { return cap(14, groups, groups - 1); }

// Groups per pass: the G whose block does the most multiply-adds per operand loaded
// (G weight groups and P broadcasts per k for P * G multiply-adds of groups): 4 on
// AVX-512 (6 pixels), 1 on AVX2 and NEON (6 pixels), 4 on the scalar target (1 pixel).
constexpr int wide_best_groups() {
  int best = 1;
  for (int G = 2; G <= kWideMaxGroups; ++G) {
    const int P = wide_pixels(G), Pb = wide_pixels(best);
    // P*G*kParts / (G*kParts + P) against best's, cross-multiplied.
    if (P * G * kParts * (best * kParts + Pb) > Pb * best * kParts * (G * kParts + P)) best = G;
  }
  return best;
}
constexpr int kWideGroups = wide_best_groups();

struct WideBlock {
  const float* x;  // the input under the first pixel: tap (0, 0), channel 0
  Index step;      // floats between the inputs of neighbouring pixels
  Index row;       // floats between the input rows of neighbouring kernel rows
  int KH, KW, C;   // taps and channels per tap (pointwise: one tap of K channels)
  const float* w;  // the pass's first weight group for k = 0; k + 1 lies w_step further
  Index w_step;
  const float* bias;  // the pass's G bias groups, unused lanes zero
  float* y;           // the first pixel's output at the pass's first channel
  int O;              // floats between output pixels
  int last;           // channels in the pass's last group (16 when it is whole)
  Index whole;        // floats from y on that the pass's last group may overrun
  bool relu;
  // Slices of k: partial sums to go on from instead of the bias, and where to leave them
  // instead of y (pixel i's at i * partial_step); null where not.
  const float* from;
  float* to;
  Index partial_step;
};

// Rows of weights (k) that the kernels prefetch ahead: passes read a part of each row.
constexpr int kWideAhead = 16;

template <int G>
struct Wide {
  template <int P>
  struct Kernel {
    static void run(const WideBlock& b) {
      V acc[P][G];
      if (b.from) {
#pragma GCC unroll 16
        for (int i = 0; i < P; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < G; ++j) acc[i][j] = LoadU(b.from + i * b.partial_step + j * kLanes);
      } else {
#pragma GCC unroll 4
        for (int j = 0; j < G; ++j) {
          const V bias = LoadU(b.bias + j * kLanes);
#pragma GCC unroll 16
          for (int i = 0; i < P; ++i) acc[i][j] = bias;
        }
      }
      const float* w = b.w;
      for (int kh = 0; kh < b.KH; ++kh)
        for (int kw = 0; kw < b.KW; ++kw) {
          const float* x = b.x + kh * b.row + Index(kw) * b.C;
          for (int c = 0; c < b.C; ++c, w += b.w_step) {
            V wv[G];
#pragma GCC unroll 4
            for (int j = 0; j < G; ++j) {
              wv[j] = LoadU(w + j * kLanes);
              __builtin_prefetch(w + kWideAhead * b.w_step + j * kLanes);
            }
#pragma GCC unroll 16
            for (int i = 0; i < P; ++i) {
              const float xi = x[i * b.step + c];
#pragma GCC unroll 4
              for (int j = 0; j < G; ++j) acc[i][j] = MulAdd(xi, wv[j], acc[i][j]);
            }
          }
        }
      if (b.to) {
#pragma GCC unroll 16
        for (int i = 0; i < P; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < G; ++j) StoreU(acc[i][j], b.to + i * b.partial_step + j * kLanes);
        return;
      }
      // Pixels in increasing order: the last group's lanes past `last` land on channels
      // of later pixels, which are stored afterwards, wherever `whole` allows it.
#pragma GCC unroll 16
      for (int i = 0; i < P; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < G; ++j) {
          const V v = b.relu ? Relu(acc[i][j]) : acc[i][j];
          const Index at = Index(i) * b.O + Index(j) * kLanes;
          if (j + 1 < G || b.last == kLanes || at + kLanes <= b.whole)
            StoreU(v, b.y + at);
          else
            StoreFirst(b.last, v, b.y + at);
        }
    }
  };
};

template <int G, int... P>
constexpr auto wide_table(std::integer_sequence<int, P...>) {
  return std::array<void (*)(const WideBlock&), sizeof...(P)>{&Wide<G>::template Kernel<P + 1>::run...};
}

// The block of `pixels` (1..wide_pixels(groups)) and `groups` (1..kWideGroups).
template <int G = 1>
void wide_block(int groups, int pixels, const WideBlock& b) {
  if constexpr (G < kWideGroups) {
    if (groups > G) return wide_block<G + 1>(groups, pixels, b);
  }
  static constexpr auto table = wide_table<G>(std::make_integer_sequence<int, wide_pixels(G)>{});
  table[pixels - 1](b);
}

// The forward of a whole convolution: per sample, or for pointwise ones per chunk of
// pixels anywhere in the batch. The output groups are cut into passes of at most
// kWideGroups; each pass runs over all pixels of a sample (chunk) before the next.
struct WidePlan {
  const ConvGeometry& g;
  bool point;      // pointwise: x read in place, pixels of all samples in one row
  bool copy;       // pad each sample into scratch; else read it in place
  int Hp, Wp;      // the padded input's size
  // Weights as rows of Op = round_up(O) floats, one per k, unused lanes zero: w itself
  // when O is whole groups (no copy, which Dense on few samples would pay for), else a
  // padded copy. A pass reads its G groups of each row.
  const float* w;
  Index w_step;  // Op
  const float* bias;  // Op floats, unused lanes zero
  int groups, passes;
  Activation act;

  WidePlan(const ConvGeometry& geometry, const float* weights, Index weight_step, const float* padded_bias,
           Activation activation)
      : g(geometry),
        point(pointwise(g)),
        copy(!point && needs_copy(g)),
        Hp((g.OH - 1) * g.stride_h + g.KH),
        Wp((g.OW - 1) * g.stride_w + g.KW),
        w(weights),
        w_step(weight_step),
        bias(padded_bias),
        groups((g.O + kLanes - 1) / kLanes),
        passes((groups + kWideGroups - 1) / kWideGroups),
        act(activation) {}

  // Taps outside the input (padding) or a padded width that is not the input's.
  static bool needs_copy(const ConvGeometry& g) {
    return g.pad_top > 0 || g.pad_left > 0 || (g.OH - 1) * g.stride_h + g.KH > g.H ||
           (g.OW - 1) * g.stride_w + g.KW > g.W;
  }
  static Index padded_output(const ConvGeometry& g) { return round_up(g.O); }
  // Shared: the bias, and the weights when O is not whole groups (else w is read in place).
  static Index shared_size(const ConvGeometry& g) {
    return round_up(g.O) + (g.O % kLanes ? g.patch() * round_up(g.O) : 0);
  }
  // Per thread: the padded sample, or a pointwise chunk's partial sums between slices.
  static Index scratch_size(const ConvGeometry& g) {
    if (pointwise(g)) return slices(g) > 1 ? chunk_pixels(g) * round_up(g.O) : 0;
    if (!needs_copy(g)) return 0;
    return Index((g.OH - 1) * g.stride_h + g.KH) * ((g.OW - 1) * g.stride_w + g.KW) * g.C;
  }
  static int slices(const ConvGeometry& g) { return int((g.patch() + kWideSlice - 1) / kWideSlice); }
  static Index chunk_pixels(const ConvGeometry& g) {
    const Index slice = std::min<Index>(g.patch(), kWideSlice);
    return std::clamp<Index>(kWideChunkFloats / slice, kWideMinChunk, kWideMaxChunk);
  }
  // Fills `shared` (shared_size floats) and returns the weights to read: w itself or the copy.
  static const float* prepare(const ConvGeometry& g, const float* w, const float* bias, float* shared) {
    const Index Op = round_up(g.O);
    for (Index o = 0; o < Op; o += kLanes)
      StoreU(bias ? LoadFirst(g.O - int(o), bias + o) : Zero(), shared + o);
    if (g.O % kLanes == 0) return w;
    float* packed = shared + Op;
    for (Index k = 0; k < g.patch(); ++k)
      for (Index o = 0; o < Op; o += kLanes) StoreU(LoadFirst(g.O - int(o), w + k * g.O + o), packed + k * Op + o);
    return packed;
  }

  // Pass p: output groups [first, first + count), near-equal counts.
  std::pair<int, int> pass(int p) const {
    const int first = groups * p / passes, end = groups * (p + 1) / passes;
    return {first, end - first};
  }

  // A block of pass (g0, G): the plan's part of WideBlock, pixels from input x and output
  // y (at channel 0 of the first pixel); `left`: floats from y to the end of what this
  // thread stores in increasing order.
  WideBlock block(const float* x, Index step, Index row, int KH, int KW, int C, float* y, Index left, int g0,
                  int G) const {
    return WideBlock{x,
                     step,
                     row,
                     KH,
                     KW,
                     C,
                     w + Index(g0) * kLanes,
                     w_step,
                     bias + Index(g0) * kLanes,
                     y + Index(g0) * kLanes,
                     g.O,
                     std::min(kLanes, g.O - (g0 + G - 1) * kLanes),
                     // In one pass the later pixels' channels are all stored after; with
                     // several, a later pass would overrun channels an earlier one wrote.
                     passes == 1 ? left : 0,
                     act == Activation::relu,
                     nullptr,
                     nullptr,
                     0};
  }

  // y [OH,OW,O] of the sample x [H,W,C]; xp: scratch_size(g) floats. Where y is one
  // phase of a larger output (wide_backward_data-inl.h's strided case), its pixels lie
  // y_step floats apart and its rows y_row; an activation that does not fuse is then the
  // caller's to apply.
  void run_sample(const float* x, float* y, float* xp, Index y_step = 0, Index y_row = 0) const {
    const bool dense = y_step == 0;
    if (dense) y_step = g.O, y_row = Index(g.OW) * g.O;
    Index row = Index(g.W) * g.C;
    if (copy) {
      pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, g.C);
      x = xp;
      row = Index(Wp) * g.C;
    }
    const Index out_sample = Index(g.OH) * g.OW * g.O;
    const Index step = Index(g.stride_w) * g.C;
    for (int p = 0; p < passes; ++p) {
      const auto [g0, G] = pass(p);
      for (int oh = 0; oh < g.OH; ++oh) {
        // Kernel rows that fall in the top or bottom padding are left out: they would
        // only add zeros (a backward-data of a valid convolution pads by KH - 1).
        const int top = oh * g.stride_h - g.pad_top;
        const int kh0 = std::clamp(-top, 0, g.KH), kh1 = std::clamp(g.H - top, kh0, g.KH);
        const float* x_row = x + Index(oh * g.stride_h + kh0) * row;
        float* y_first = y + Index(oh) * y_row;
        for_each_block(g.OW, wide_pixels(G), [&](int ow0, int size) {
          float* y_block = y_first + Index(ow0) * y_step;
          // Between a phase's pixels lie other phases' pixels: no overrun into them.
          const Index left = dense ? out_sample - (y_block - y) : 0;
          WideBlock b = block(x_row + ow0 * step, step, row, kh1 - kh0, g.KW, g.C, y_block, left, g0, G);
          b.w += Index(kh0) * g.KW * g.C * w_step;
          b.O = int(y_step);
          wide_block(G, size, b);
        });
      }
    }
    if (dense && !fused(act)) activation_forward(act, y, Index(g.OH) * g.OW, g.O);
  }

  // Pointwise: pixels [r0, r1) of the batch, each a row of K = C inputs; partial: this
  // thread's scratch_size(g) floats.
  void run_pixels(Index r0, Index r1, const float* x, float* y, float* partial) const {
    const Index K = Index(g.C), Op = round_up(g.O);
    const int n_slices = slices(g);
    for (int s = 0; s < n_slices; ++s) {
      const Index k0 = K * s / n_slices, k1 = K * (s + 1) / n_slices;
      for (int p = 0; p < passes; ++p) {
        const auto [g0, G] = pass(p);
        for_each_block(int(r1 - r0), wide_pixels(G), [&](int first, int size) {
          const Index r = r0 + first;
          WideBlock b = block(x + r * K + k0, K, 0, 1, 1, int(k1 - k0), y + r * g.O, (r1 - r) * g.O, g0, G);
          b.w += k0 * w_step;
          float* sums = partial + Index(first) * Op + Index(g0) * kLanes;
          b.from = s > 0 ? sums : nullptr;
          b.to = s + 1 < n_slices ? sums : nullptr;
          b.partial_step = Op;
          wide_block(G, size, b);
        });
      }
    }
    // One row per call: every pixel goes through the same code, wherever it lies.
    if (!fused(act))
      for (Index r = r0; r < r1; ++r) activation_forward(act, y + r * g.O, 1, g.O);
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WIDE_FORWARD_INL_H_

// The backward of a 2x2 max pooling at stride 2 that tiles the image, one sample at a
// time: the pooled gradient routed to each window's winning tap, zeros elsewhere. Shared
// by the pooling's own backward and the convolution backward that unpools as it goes.
//
// dy (N,OH,OW,C) and where (its taps, kh * 2 + kw), dx (N,2 OH,2 OW,C).

// Target-independent part.
#ifndef DN_KERNELS_SIMD_UNPOOL_H_
#define DN_KERNELS_SIMD_UNPOOL_H_
#include <type_traits>

#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {

// 2x2 windows at stride 2 that tile the image exactly, at most 16 channels or whole
// groups of them: Keras's MaxPooling2D() as the seed model, the U-Nets and the
// classifiers use it. Groups are loaded and stored whole wherever their 16 floats lie
// inside the batch (masked memory costs many plain accesses on AVX2) and the general
// loop's index arithmetic per tap is gone.
inline bool tiled_pairs(const ConvGeometry& g) {
  return g.KH == 2 && g.KW == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_top == 0 && g.pad_left == 0 &&
         g.H == 2 * g.OH && g.W == 2 * g.OW && (g.C <= kLanes || g.C % kLanes == 0);
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_UNPOOL_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_UNPOOL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_UNPOOL_INL_H_
#undef DN_KERNELS_SIMD_UNPOOL_INL_H_
#else
#define DN_KERNELS_SIMD_UNPOOL_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

// grad where the pooled value relu_y[o...] is positive, zero elsewhere; grad itself when
// relu_y is null. whole: the group lies inside the batch's pooled values.
HWY_INLINE V gated(const float* relu_y, Index o, bool whole, int n, const V& grad) {
  if (!relu_y) return grad;
  return SelectGreater(whole ? LoadU(relu_y + o) : LoadFirst(n, relu_y + o), Zero(), grad, Zero());
}

// dxn [H,W,C] of sample n (tiled_pairs(g)). relu_y (the pooled y, or null): the input
// came out of a ReLU whose derivative this takes (see kernels::maxpool_backward).
inline void unpool_pairs_sample(const ConvGeometry& g, int n, const std::uint16_t* where, const float* dy,
                                const float* relu_y, float* dxn) {
  const int C = g.C;
  const Index row = Index(g.W) * C, in_sample = Index(g.H) * row;
  const Index batch_end = g.N * Index(g.OH) * g.OW * C;
  const V zero = Zero();
  // Each dx row in turn, its pixels in increasing order (as in the forward): tap kh * 2 + kw.
  // One group per pixel (at most 16 channels) or whole groups, told apart at compile time:
  // a loop over one group costs the seed model's 12 channels 15%.
  auto unpool = [&](auto one_group) {
    constexpr bool kOneGroup = decltype(one_group)::value;
    const int n_group = kOneGroup ? C : kLanes;  // floats of each group that are the pixel's
    // Whole groups, but where they would reach past the sample (see the forward).
    auto store = [&, sample_end = dxn + in_sample](const V& v, float* a) {
      if (a + kLanes <= sample_end)
        StoreU(v, a);
      else
        StoreFirst(n_group, v, a);
    };
    for (int ih = 0; ih < g.H; ++ih) {
      const V left = Set(static_cast<float>(2 * (ih % 2))), right = Set(static_cast<float>(2 * (ih % 2) + 1));
      Index o = (n * g.OH + Index(ih / 2)) * g.OW * C;
      float* out = dxn + ih * row;
      for (int ow = 0; ow < g.OW; ++ow, o += C, out += 2 * C)
        for (int c0 = 0; c0 < (kOneGroup ? 1 : C); c0 += kLanes) {
          const Index oc = o + c0;
          const bool whole = oc + kLanes <= batch_end;
          const V grad = gated(relu_y, oc, whole, n_group, whole ? LoadU(dy + oc) : LoadFirst(n_group, dy + oc));
          const V won = LoadTaps(where + oc, n_group, whole);
          const V a = AddWhereEqual(won, left, zero, grad), b = AddWhereEqual(won, right, zero, grad);
          store(a, out + c0);  // lanes past C land on the next pixels, stored after it
          store(b, out + C + c0);
        }
    }
  };
  if (C <= kLanes)
    unpool(std::true_type{});
  else
    unpool(std::false_type{});
}

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_UNPOOL_INL_H_

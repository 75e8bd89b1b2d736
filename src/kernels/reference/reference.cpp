#include "kernels/reference/reference.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dn::reference {

namespace {

using Index = std::size_t;

void activate_row(Activation act, double* z, int channels) {
  switch (act) {
    case Activation::linear:
      return;
    case Activation::relu:
      for (int c = 0; c < channels; ++c) z[c] = z[c] > 0.0 ? z[c] : 0.0;
      return;
    case Activation::sigmoid:
      for (int c = 0; c < channels; ++c) z[c] = 1.0 / (1.0 + std::exp(-z[c]));
      return;
    case Activation::tanh:
      for (int c = 0; c < channels; ++c) z[c] = std::tanh(z[c]);
      return;
    case Activation::softmax: {
      const double m = *std::max_element(z, z + channels);
      double sum = 0.0;
      for (int c = 0; c < channels; ++c) sum += z[c] = std::exp(z[c] - m);
      for (int c = 0; c < channels; ++c) z[c] /= sum;
      return;
    }
  }
}

// Stores rows of double pre-activations through the activation into y.
void store_activated(Activation act, std::vector<double>& z, std::size_t rows, int channels, float* y) {
  for (std::size_t r = 0; r < rows; ++r) {
    double* row = z.data() + r * channels;
    activate_row(act, row, channels);
    for (int c = 0; c < channels; ++c) y[r * channels + c] = static_cast<float>(row[c]);
  }
}

void add_into(const std::vector<double>& acc, float* dst) {
  for (std::size_t i = 0; i < acc.size(); ++i) dst[i] = static_cast<float>(dst[i] + acc[i]);
}

void store(const std::vector<double>& acc, float* dst) {
  for (std::size_t i = 0; i < acc.size(); ++i) dst[i] = static_cast<float>(acc[i]);
}

}  // namespace

void activation_forward(Activation act, float* y, std::size_t rows, int channels) {
  std::vector<double> z(y, y + rows * channels);
  store_activated(act, z, rows, channels, y);
}

void activation_backward(Activation act, const float* y, const float* dy, float* dz, std::size_t rows,
                         int channels) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* yr = y + r * channels;
    const float* dyr = dy + r * channels;
    double dot = 0.0;
    for (int c = 0; c < channels; ++c) dot += static_cast<double>(dyr[c]) * yr[c];
    for (int c = 0; c < channels; ++c) {
      const double v = yr[c], d = dyr[c];
      double g = d;
      switch (act) {
        case Activation::linear: break;
        case Activation::relu: g = v > 0.0 ? d : 0.0; break;
        case Activation::sigmoid: g = d * v * (1.0 - v); break;
        case Activation::tanh: g = d * (1.0 - v * v); break;
        case Activation::softmax: g = v * (d - dot); break;
      }
      dz[r * channels + c] = static_cast<float>(g);
    }
  }
}

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y) {
  std::vector<double> z(g.output_size());
  for (int n = 0; n < g.N; ++n)
    for (int oh = 0; oh < g.OH; ++oh)
      for (int ow = 0; ow < g.OW; ++ow)
        for (int o = 0; o < g.O; ++o) {
          double acc = bias ? bias[o] : 0.0;
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              const int ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              for (int c = 0; c < g.C; ++c)
                acc += static_cast<double>(x[((Index(n) * g.H + ih) * g.W + iw) * g.C + c]) *
                       w[((Index(kh) * g.KW + kw) * g.C + c) * g.O + o];
            }
          z[((Index(n) * g.OH + oh) * g.OW + ow) * g.O + o] = acc;
        }
  store_activated(act, z, g.rows(), g.O, y);
}

void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  std::vector<double> acc(g.input_size());
  for (int n = 0; n < g.N; ++n)
    for (int oh = 0; oh < g.OH; ++oh)
      for (int ow = 0; ow < g.OW; ++ow)
        for (int kh = 0; kh < g.KH; ++kh)
          for (int kw = 0; kw < g.KW; ++kw) {
            const int ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            for (int c = 0; c < g.C; ++c)
              for (int o = 0; o < g.O; ++o)
                acc[((Index(n) * g.H + ih) * g.W + iw) * g.C + c] +=
                    static_cast<double>(dy[((Index(n) * g.OH + oh) * g.OW + ow) * g.O + o]) *
                    w[((Index(kh) * g.KW + kw) * g.C + c) * g.O + o];
          }
  store(acc, dx);
}

void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias) {
  std::vector<double> acc(g.patch() * g.O), bias_acc(g.O);
  for (int n = 0; n < g.N; ++n)
    for (int oh = 0; oh < g.OH; ++oh)
      for (int ow = 0; ow < g.OW; ++ow)
        for (int o = 0; o < g.O; ++o) {
          const double d = dy[((Index(n) * g.OH + oh) * g.OW + ow) * g.O + o];
          bias_acc[o] += d;
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              const int ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              for (int c = 0; c < g.C; ++c)
                acc[((Index(kh) * g.KW + kw) * g.C + c) * g.O + o] +=
                    d * x[((Index(n) * g.H + ih) * g.W + iw) * g.C + c];
            }
        }
  add_into(acc, dw);
  if (dbias) add_into(bias_acc, dbias);
}

void conv2d_transpose_forward(const TransposeShape& t, const float* x, const float* k, const float* bias,
                              Activation act, float* y) {
  const std::size_t out_rows = Index(t.N) * t.OH * t.OW;
  std::vector<double> z(out_rows * t.CO);
  for (std::size_t r = 0; r < out_rows; ++r)
    for (int co = 0; co < t.CO; ++co) z[r * t.CO + co] = bias ? bias[co] : 0.0;
  for (int n = 0; n < t.N; ++n)
    for (int i = 0; i < t.IH; ++i)
      for (int j = 0; j < t.IW; ++j)
        for (int kh = 0; kh < t.KH; ++kh)
          for (int kw = 0; kw < t.KW; ++kw) {
            const int r = i * t.stride_h + kh - t.pad_top, c = j * t.stride_w + kw - t.pad_left;
            if (r < 0 || r >= t.OH || c < 0 || c >= t.OW) continue;
            for (int ci = 0; ci < t.CI; ++ci)
              for (int co = 0; co < t.CO; ++co)
                z[((Index(n) * t.OH + r) * t.OW + c) * t.CO + co] +=
                    static_cast<double>(x[((Index(n) * t.IH + i) * t.IW + j) * t.CI + ci]) *
                    k[((Index(kh) * t.KW + kw) * t.CO + co) * t.CI + ci];
          }
  store_activated(act, z, out_rows, t.CO, y);
}

void conv2d_transpose_backward_data(const TransposeShape& t, const float* dz, const float* k, float* dx) {
  for (int n = 0; n < t.N; ++n)
    for (int i = 0; i < t.IH; ++i)
      for (int j = 0; j < t.IW; ++j)
        for (int ci = 0; ci < t.CI; ++ci) {
          double acc = 0.0;
          for (int kh = 0; kh < t.KH; ++kh)
            for (int kw = 0; kw < t.KW; ++kw) {
              const int r = i * t.stride_h + kh - t.pad_top, c = j * t.stride_w + kw - t.pad_left;
              if (r < 0 || r >= t.OH || c < 0 || c >= t.OW) continue;
              for (int co = 0; co < t.CO; ++co)
                acc += static_cast<double>(dz[((Index(n) * t.OH + r) * t.OW + c) * t.CO + co]) *
                       k[((Index(kh) * t.KW + kw) * t.CO + co) * t.CI + ci];
            }
          dx[((Index(n) * t.IH + i) * t.IW + j) * t.CI + ci] = static_cast<float>(acc);
        }
}

void conv2d_transpose_backward_weights(const TransposeShape& t, const float* x, const float* dz, float* dk,
                                       float* dbias) {
  std::vector<double> acc(Index(t.KH) * t.KW * t.CO * t.CI), bias_acc(t.CO);
  for (std::size_t r = 0; r < Index(t.N) * t.OH * t.OW; ++r)
    for (int co = 0; co < t.CO; ++co) bias_acc[co] += dz[r * t.CO + co];
  for (int n = 0; n < t.N; ++n)
    for (int i = 0; i < t.IH; ++i)
      for (int j = 0; j < t.IW; ++j)
        for (int kh = 0; kh < t.KH; ++kh)
          for (int kw = 0; kw < t.KW; ++kw) {
            const int r = i * t.stride_h + kh - t.pad_top, c = j * t.stride_w + kw - t.pad_left;
            if (r < 0 || r >= t.OH || c < 0 || c >= t.OW) continue;
            for (int co = 0; co < t.CO; ++co)
              for (int ci = 0; ci < t.CI; ++ci)
                acc[((Index(kh) * t.KW + kw) * t.CO + co) * t.CI + ci] +=
                    static_cast<double>(dz[((Index(n) * t.OH + r) * t.OW + c) * t.CO + co]) *
                    x[((Index(n) * t.IH + i) * t.IW + j) * t.CI + ci];
          }
  add_into(acc, dk);
  add_into(bias_acc, dbias);
}

void maxpool_forward(const ConvGeometry& g, const float* x, float* y) {
  for (int n = 0; n < g.N; ++n)
    for (int oh = 0; oh < g.OH; ++oh)
      for (int ow = 0; ow < g.OW; ++ow)
        for (int c = 0; c < g.C; ++c) {
          double best = -INFINITY;
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              const int ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              best = std::max(best, static_cast<double>(x[((Index(n) * g.H + ih) * g.W + iw) * g.C + c]));
            }
          y[((Index(n) * g.OH + oh) * g.OW + ow) * g.C + c] = static_cast<float>(best);
        }
}

void maxpool_backward(const ConvGeometry& g, const float* x, const float* dy, float* dx) {
  std::vector<double> acc(g.input_size());
  for (int n = 0; n < g.N; ++n)
    for (int oh = 0; oh < g.OH; ++oh)
      for (int ow = 0; ow < g.OW; ++ow)
        for (int c = 0; c < g.C; ++c) {
          Index arg = 0;
          double best = -INFINITY;
          bool found = false;
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              const int ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              const Index i = ((Index(n) * g.H + ih) * g.W + iw) * g.C + c;
              if (!found || x[i] > best) {  // strictly greater: ties keep the first
                best = x[i], arg = i, found = true;
              }
            }
          acc[arg] += dy[((Index(n) * g.OH + oh) * g.OW + ow) * g.C + c];
        }
  store(acc, dx);
}

void dense_forward(int rows, int in, int out, const float* x, const float* w, const float* bias, Activation act,
                   float* y) {
  std::vector<double> z(Index(rows) * out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double acc = bias ? bias[o] : 0.0;
      for (int i = 0; i < in; ++i) acc += static_cast<double>(x[Index(r) * in + i]) * w[Index(i) * out + o];
      z[Index(r) * out + o] = acc;
    }
  store_activated(act, z, rows, out, y);
}

void dense_backward_data(int rows, int in, int out, const float* dz, const float* w, float* dx) {
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < in; ++i) {
      double acc = 0.0;
      for (int o = 0; o < out; ++o) acc += static_cast<double>(dz[Index(r) * out + o]) * w[Index(i) * out + o];
      dx[Index(r) * in + i] = static_cast<float>(acc);
    }
}

void dense_backward_weights(int rows, int in, int out, const float* x, const float* dz, float* dw, float* dbias) {
  std::vector<double> acc(Index(in) * out), bias_acc(out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      const double d = dz[Index(r) * out + o];
      bias_acc[o] += d;
      for (int i = 0; i < in; ++i) acc[Index(i) * out + o] += d * x[Index(r) * in + i];
    }
  add_into(acc, dw);
  add_into(bias_acc, dbias);
}

}  // namespace dn::reference

#pragma once
// 8-bit pictures: PNG/JPEG writing and reading through libpng and libjpeg-turbo
// (data/image_codec.hpp; reading with its hardened decoders at the default pixel limit), conversion
// from and to tensors, rectangles and text in a built-in 5x7 pixel font
// (for labels and plot axes), and the image grids that show digits.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.hpp"
#include "data/image_codec.hpp"

namespace dn {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kWhite{255, 255, 255};

struct Image {
  int width = 0, height = 0;
  int channels = 1;                  // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  std::vector<std::uint8_t> pixels;  // row-major, channels interleaved

  Image() = default;
  Image(int width, int height, int channels, std::uint8_t fill = 0);
};

// Encodes in memory, then writes with write_file_atomic: never a partial file.
void write_png_atomic(const std::filesystem::path& path, const Image& image);
// A picture the user names: PNG or JPEG by its extension (.png, .jpg, .jpeg, any case).
// check_picture_name throws ArgumentError(argument, ...) for any other name, so that a
// file is never written in a format its name does not say; programs call it before work.
void check_picture_name(const std::filesystem::path& path, const std::string& argument);
void write_image_atomic(const std::filesystem::path& path, const Image& image);

// A PNG (16-bit samples rounded to 8 bits) or JPEG; channels = 0 keeps the file's own, 1-4
// converts (colour to gray by luminance, alpha added as opaque or dropped).
// DataError naming the file when it is missing, damaged or cannot be decoded.
Image read_image(const std::filesystem::path& path, int channels = 0);
// A decoded picture (data/image_codec.hpp) as read_image converts it: pictures received in
// memory become the same Image as the same bytes read from a file.
Image image_from_picture(const Picture& picture, int channels = 0);

// [H, W] or [H, W, 1] in [0, 1] -> gray (values clipped, rounded); [H, W, 3] -> RGB.
Image image_from_tensor(const Tensor& image);
// -> [H, W] in [0, 1]; colour is converted to gray by luminance (0.299 R + 0.587 G + 0.114 B),
// alpha is ignored.
Tensor tensor_from_image(const Image& image);

// Drawing clips at the image border. On a gray image a colour is drawn as its luminance.
void fill_rect(Image& image, int x, int y, int width, int height, Rgb colour);
// UTF-8 text, antialiased (cairo, DejaVu Sans), in a box text_width x text_height pixels
// whose top left corner is (x, y); scale 1 is an 8-pixel line, as the labels of the
// digit grids use.
void draw_text(Image& image, int x, int y, std::string_view text, int scale, Rgb colour);
int text_width(std::string_view text, int scale);  // the advance (or ink, if wider) + 1
int text_height(int scale);                        // 8*scale, descenders included

// Rows of images side by side, each row a tensor [N, H, W] (or [N, H, W, 1]) in
// [0, 1] with the same H and W, every pixel scaled up `scale` times (nearest),
// separated by thin grey lines, with row_labels[r] written left of row r
// (row_labels empty, or one per row). Gray result.
Image make_grid(const std::vector<Tensor>& rows, const std::vector<std::string>& row_labels, int scale = 4);

}  // namespace dn

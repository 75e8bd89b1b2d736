#include "data/image_codec.hpp"

// libpng and libjpeg report errors by longjmp. Each call that may jump runs in a small
// function holding only trivially destructible locals (raw pointers and ints), so a jump
// skips no destructor; buffers are allocated by the C++ caller between those calls.
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace dn {

namespace fs = std::filesystem;

Picture::Picture(int w, int h, int c, int depth) : width(w), height(h), channels(c), bit_depth(depth) {
  if (w < 0 || h < 0 || c < 1 || c > 4 || (depth != 8 && depth != 16))
    throw std::invalid_argument(fmt::format("Picture({}, {}, {}, {})", w, h, c, depth));
  bytes.assign(samples() * std::size_t(depth / 8), 0);
}

std::uint16_t Picture::level(std::size_t i) const {
  if (bit_depth == 8) return bytes[i];
  std::uint16_t v;
  std::memcpy(&v, &bytes[2 * i], 2);
  return v;
}

void Picture::set_level(std::size_t i, std::uint16_t v) {
  if (bit_depth == 8)
    bytes[i] = static_cast<std::uint8_t>(v);
  else
    std::memcpy(&bytes[2 * i], &v, 2);
}

float Picture::get(std::size_t i) const { return float(level(i) / max_value()); }

void Picture::set(std::size_t i, float v) {
  const double clipped = v > 0.0f ? std::min(double(v), 1.0) : 0.0;  // NaN -> 0
  set_level(i, static_cast<std::uint16_t>(std::lround(clipped * max_value())));
}

PictureFormat sniff_picture_format(std::span<const std::uint8_t> file, const std::string& name) {
  static constexpr std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (file.size() >= 8 && std::memcmp(file.data(), kPng, 8) == 0) return PictureFormat::png;
  if (file.size() >= 3 && file[0] == 0xFF && file[1] == 0xD8 && file[2] == 0xFF) return PictureFormat::jpeg;
  throw DataError(name + ": cannot read as an image (not a PNG or JPEG file)");
}

static void check_pixels(std::uint64_t width, std::uint64_t height, std::uint64_t max_pixels, const std::string& name) {
  if (width == 0 || height == 0) throw DataError(fmt::format("{}: the image declares {}x{} pixels", name, width, height));
  if (width * height > max_pixels)
    throw PixelLimitError(fmt::format("{}: the image declares {}x{} = {} pixels, over the limit of {} (raise it to read it)",
                                name, width, height, width * height, max_pixels));
}

// ---- PNG ----------------------------------------------------------------------------

namespace {

struct PngSource {
  const std::uint8_t* data;
  std::size_t size, pos;
  char message[256];
};

void png_fail(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message);
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}  // e.g. sRGB profile notes; damage is an error

void png_read_from(png_structp png, png_bytep out, png_size_t length) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > src->size - src->pos) png_error(png, "the file is truncated");
  std::memcpy(out, src->data + src->pos, length);
  src->pos += length;
}

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int channels = 0, bit_depth = 0;
};

// Reads the chunks up to the image data and sets up the expansions; 0 on success.
int png_read_header(png_structp png, png_infop info, PngHeader* header) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_read_info(png, info);
  header->width = png_get_image_width(png, info);
  header->height = png_get_image_height(png, info);
  const int colour = png_get_color_type(png, info);
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colour == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (png_get_bit_depth(png, info) == 16 && std::endian::native == std::endian::little) png_set_swap(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  header->channels = png_get_channels(png, info);
  header->bit_depth = png_get_bit_depth(png, info);
  return 0;
}

int png_read_pixels(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_read_image(png, rows);
  png_read_end(png, info);  // the chunks after the image data, IEND included: their CRCs too
  return 0;
}

struct PngReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadGuard() { png_destroy_read_struct(&png, &info, nullptr); }
};

Picture decode_png(std::span<const std::uint8_t> file, const std::string& name, std::uint64_t max_pixels) {
  PngSource src{file.data(), file.size(), 0, {}};
  PngReadGuard guard;
  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_ignore_warning);
  if (!guard.png) throw std::bad_alloc();
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) throw std::bad_alloc();
  png_set_read_fn(guard.png, &src, png_read_from);
  // Our own pixel limit replaces libpng's 1,000,000-pixel side limit; ancillary chunks
  // (text, profiles) are bounded so that they cannot be bombs either.
  png_set_user_limits(guard.png, 0x7fffffff, 0x7fffffff);
  png_set_chunk_cache_max(guard.png, 1000);
  png_set_chunk_malloc_max(guard.png, 8u << 20);
  png_set_crc_action(guard.png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  // libpng's benign errors (a colour profile with a bad rendering intent, as in some of
  // scikit-image's photographs) stay warnings: they leave the pixels intact.

  PngHeader header;
  if (png_read_header(guard.png, guard.info, &header)) throw DataError(fmt::format("{}: bad PNG: {}", name, src.message));
  check_pixels(header.width, header.height, max_pixels, name);
  if (header.channels < 1 || header.channels > 4 || (header.bit_depth != 8 && header.bit_depth != 16))
    throw DataError(fmt::format("{}: unsupported PNG layout ({} channels, {} bits)", name, header.channels,
                                header.bit_depth));
  Picture picture(int(header.width), int(header.height), header.channels, header.bit_depth);
  const std::size_t stride = std::size_t(header.width) * std::size_t(header.channels) * std::size_t(header.bit_depth / 8);
  std::vector<png_bytep> rows(header.height);
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = picture.bytes.data() + r * stride;
  if (png_read_pixels(guard.png, guard.info, rows.data()))
    throw DataError(fmt::format("{}: bad PNG: {}", name, src.message));
  return picture;
}

// ---- JPEG ---------------------------------------------------------------------------

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (level -1) mean damaged data that libjpeg would paper over, a truncated file
// among them ("Premature end of JPEG file"): they are errors here. Trace messages are not.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);
}

struct JpegHeader {
  unsigned width = 0, height = 0;
  int channels = 0;
  bool cmyk = false;
};

int jpeg_read_head(jpeg_decompress_struct* cinfo, JpegError* err, const std::uint8_t* data, std::size_t size,
                   JpegHeader* header) {
  if (setjmp(err->jump)) return 1;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  header->width = cinfo->image_width;
  header->height = cinfo->image_height;
  header->cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  header->channels = cinfo->num_components == 1 ? 1 : 3;
  return 0;
}

int jpeg_read_pixels(jpeg_decompress_struct* cinfo, JpegError* err, std::uint8_t* out, std::size_t stride) {
  if (setjmp(err->jump)) return 1;
  jpeg_start_decompress(cinfo);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out + std::size_t(cinfo->output_scanline) * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return 0;
}

struct JpegReadGuard {
  jpeg_decompress_struct cinfo{};
  JpegError err{};
  JpegReadGuard() {
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    err.mgr.emit_message = jpeg_message;
    jpeg_create_decompress(&cinfo);
  }
  ~JpegReadGuard() { jpeg_destroy_decompress(&cinfo); }
};

Picture decode_jpeg(std::span<const std::uint8_t> file, const std::string& name, std::uint64_t max_pixels) {
  JpegReadGuard guard;
  JpegHeader header;
  if (jpeg_read_head(&guard.cinfo, &guard.err, file.data(), file.size(), &header))
    throw DataError(fmt::format("{}: bad JPEG: {}", name, guard.err.message));
  check_pixels(header.width, header.height, max_pixels, name);
  if (header.cmyk) throw DataError(name + ": CMYK JPEG files are not supported (convert to RGB first)");
  Picture picture(int(header.width), int(header.height), header.channels, 8);
  if (jpeg_read_pixels(&guard.cinfo, &guard.err, picture.bytes.data(), std::size_t(header.width) * std::size_t(header.channels)))
    throw DataError(fmt::format("{}: bad JPEG: {}", name, guard.err.message));
  return picture;
}

// ---- writing ------------------------------------------------------------------------

struct PngSink {
  std::string* out;
  char message[256];
};

void png_write_to(png_structp png, png_bytep data, png_size_t length) {
  static_cast<PngSink*>(png_get_io_ptr(png))->out->append(reinterpret_cast<const char*>(data), length);
}
void png_flush_nothing(png_structp) {}
void png_write_fail(png_structp png, png_const_charp message) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof sink->message, "%s", message);
  png_longjmp(png, 1);
}

int png_write_all(png_structp png, png_infop info, const Picture* p, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return 1;
  static constexpr int kColour[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                     PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, png_uint_32(p->width), png_uint_32(p->height), p->bit_depth, kColour[p->channels],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  // Level 3 of 9: a denoised picture compresses nearly as well, in much less time.
  png_set_compression_level(png, 3);
  png_write_info(png, info);
  if (p->bit_depth == 16 && std::endian::native == std::endian::little) png_set_swap(png);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return 0;
}

struct PngWriteGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteGuard() { png_destroy_write_struct(&png, &info); }
};

struct JpegSink {
  jpeg_compress_struct cinfo{};
  JpegError err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  JpegSink() {
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    jpeg_create_compress(&cinfo);
  }
  ~JpegSink() {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
  }
};

int jpeg_write_all(JpegSink* sink, const std::uint8_t* rgb_or_gray, int width, int height, int channels, int quality) {
  if (setjmp(sink->err.jump)) return 1;
  jpeg_compress_struct* c = &sink->cinfo;
  jpeg_mem_dest(c, &sink->buffer, &sink->size);
  c->image_width = JDIMENSION(width);
  c->image_height = JDIMENSION(height);
  c->input_components = channels;
  c->in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(c);
  jpeg_set_quality(c, quality, TRUE);
  jpeg_start_compress(c, TRUE);
  while (c->next_scanline < c->image_height) {
    JSAMPROW row = const_cast<std::uint8_t*>(rgb_or_gray) + std::size_t(c->next_scanline) * std::size_t(width * channels);
    jpeg_write_scanlines(c, &row, 1);
  }
  jpeg_finish_compress(c);
  return 0;
}

}  // namespace

Picture decode_picture(std::span<const std::uint8_t> file, const std::string& name, std::uint64_t max_pixels) {
  return sniff_picture_format(file, name) == PictureFormat::png ? decode_png(file, name, max_pixels)
                                                                 : decode_jpeg(file, name, max_pixels);
}

Picture read_picture(const fs::path& path, std::uint64_t max_pixels) {
  const auto bytes = read_file_bytes(path);
  return decode_picture(bytes, path.string(), max_pixels);
}

static void check(const Picture& p) {
  if (p.width <= 0 || p.height <= 0 || p.channels < 1 || p.channels > 4 || (p.bit_depth != 8 && p.bit_depth != 16) ||
      p.bytes.size() != p.samples() * std::size_t(p.bit_depth / 8))
    throw std::invalid_argument(fmt::format("invalid picture {}x{}x{} at {} bits with {} bytes", p.width, p.height,
                                            p.channels, p.bit_depth, p.bytes.size()));
}

std::string encode_png(const Picture& picture) {
  check(picture);
  std::string out;
  PngSink sink{&out, {}};
  PngWriteGuard guard;
  guard.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_write_fail, png_ignore_warning);
  if (!guard.png) throw std::bad_alloc();
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) throw std::bad_alloc();
  png_set_write_fn(guard.png, &sink, png_write_to, png_flush_nothing);
  const std::size_t stride = std::size_t(picture.width) * std::size_t(picture.channels) * std::size_t(picture.bit_depth / 8);
  std::vector<png_bytep> rows(std::size_t(picture.height));
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = const_cast<png_bytep>(picture.bytes.data() + r * stride);
  if (png_write_all(guard.png, guard.info, &picture, rows.data()))
    throw std::runtime_error(std::string("PNG encoding failed: ") + sink.message);
  return out;
}

std::string encode_jpeg(const Picture& picture, int quality) {
  check(picture);
  const int channels = picture.colour_channels();
  std::vector<std::uint8_t> samples(std::size_t(picture.width) * std::size_t(picture.height) * std::size_t(channels));
  const std::size_t pixels = std::size_t(picture.width) * std::size_t(picture.height);
  for (std::size_t i = 0; i < pixels; ++i)
    for (int c = 0; c < channels; ++c) {
      const std::uint16_t v = picture.level(i * std::size_t(picture.channels) + std::size_t(c));
      samples[i * std::size_t(channels) + std::size_t(c)] =
          picture.bit_depth == 8 ? std::uint8_t(v) : std::uint8_t((v + 128u) / 257u);
    }
  JpegSink sink;
  if (jpeg_write_all(&sink, samples.data(), picture.width, picture.height, channels, quality))
    throw std::runtime_error(std::string("JPEG encoding failed: ") + sink.err.message);
  return std::string(reinterpret_cast<const char*>(sink.buffer), sink.size);
}

PictureFormat format_for_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return ext == ".jpg" || ext == ".jpeg" ? PictureFormat::jpeg : PictureFormat::png;
}

void write_picture_atomic(const fs::path& path, const Picture& picture) {
  write_file_atomic(path, format_for_extension(path) == PictureFormat::jpeg ? encode_jpeg(picture) : encode_png(picture));
}

}  // namespace dn

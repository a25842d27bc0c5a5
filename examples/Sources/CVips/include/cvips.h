// The few libvips calls Kale's image tasks need, with plain C signatures.
//
// libvips's own API is variadic (name/value option lists ending in NULL), which Swift
// cannot call, so each operation the tasks use gets one fixed-signature wrapper here.
// Every function returns 0 on success and -1 on failure; the reason is then in
// cvips_take_error().
#ifndef CVIPS_H
#define CVIPS_H

#include <stddef.h>

/// Starts libvips once per process. Turns the operation cache off (a long-lived worker
/// would otherwise keep decoded images alive) and caps libvips's thread pool at `threads`.
int cvips_init(const char *program, int threads);

/// Reads only the header of `path`: its width, height and number of bands.
int cvips_probe(const char *path, int *width, int *height, int *bands);

/// Shrinks `input` to fit `width`×`height` (or fill it exactly when `crop` is non-zero,
/// cutting from the centre) and saves it to `output`, in the format its suffix names.
/// The image is never enlarged.
int cvips_thumbnail(const char *input, const char *output, int width, int height, int crop,
                    int *out_width, int *out_height);

/// Re-encodes `input` as the format `output`'s suffix names.
int cvips_convert(const char *input, const char *output, int *out_width, int *out_height);

/// Saves `bands`-channel 8-bit pixels (`width`×`height`, rows packed) to `output`.
int cvips_save_pixels(const unsigned char *pixels, int width, int height, int bands, const char *output);

/// Whether libvips can save files with `output`'s suffix (".jpg", ".png", ".webp" …).
int cvips_can_save(const char *output);

/// Copies the text of the last errors into `buffer` (NUL-terminated, cut to `size`) and
/// clears them. libvips keeps one error buffer per process.
void cvips_take_error(char *buffer, size_t size);

#endif

#include "cvips.h"

#include <string.h>
#include <strings.h>
#include <vips/vips.h>

int cvips_init(const char *program, int threads) {
    if (VIPS_INIT(program) != 0) return -1;
    vips_cache_set_max(0);
    vips_concurrency_set(threads > 0 ? threads : 1);
    return 0;
}

int cvips_probe(const char *path, int *width, int *height, int *bands) {
    // Lazy: opening reads the header only, so probing a huge image costs nothing.
    VipsImage *image = vips_image_new_from_file(path, NULL);
    if (!image) return -1;
    *width = vips_image_get_width(image);
    *height = vips_image_get_height(image);
    *bands = vips_image_get_bands(image);
    g_object_unref(image);
    return 0;
}

static int has_suffix(const char *path, const char *suffix) {
    size_t n = strlen(path), m = strlen(suffix);
    return n >= m && strcasecmp(path + n - m, suffix) == 0;
}

// Saves with settings fit for the web: metadata stripped, moderate quality. JPEG has no
// alpha, so a transparent image is flattened on white (libvips would use black).
static int save(VipsImage *image, const char *output) {
    int rc;
    if (has_suffix(output, ".jpg") || has_suffix(output, ".jpeg")) {
        VipsImage *flat = NULL;
        if (vips_image_hasalpha(image)) {
            VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
            rc = vips_flatten(image, &flat, "background", white, NULL);
            vips_area_unref(VIPS_AREA(white));
            if (rc != 0) return -1;
            image = flat;
        }
        rc = vips_jpegsave(image, output, "Q", 85, "strip", TRUE, "optimize_coding", TRUE, NULL);
        if (flat) g_object_unref(flat);
        return rc;
    }
    if (has_suffix(output, ".png")) return vips_pngsave(image, output, "strip", TRUE, "compression", 6, NULL);
    if (has_suffix(output, ".webp")) return vips_webpsave(image, output, "Q", 80, "strip", TRUE, NULL);
    return vips_image_write_to_file(image, output, NULL);
}

int cvips_thumbnail(const char *input, const char *output, int width, int height, int crop,
                    int *out_width, int *out_height) {
    VipsImage *thumb = NULL;
    // vips_thumbnail shrinks while decoding (JPEG shrink-on-load), so a 12 Mpx photo is
    // never fully decoded; "size down" refuses to enlarge small images. fail_on makes a
    // truncated or corrupt file an error rather than a thumbnail with a grey band.
    int rc = vips_thumbnail(input, &thumb, width, "height", height, "size", VIPS_SIZE_DOWN,
                            "crop", crop ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE,
                            "fail_on", VIPS_FAIL_ON_ERROR, NULL);
    if (rc != 0) return -1;
    rc = save(thumb, output);
    if (rc == 0) {
        *out_width = vips_image_get_width(thumb);
        *out_height = vips_image_get_height(thumb);
    }
    g_object_unref(thumb);
    return rc;
}

int cvips_convert(const char *input, const char *output, int *out_width, int *out_height) {
    VipsImage *image = vips_image_new_from_file(input, "access", VIPS_ACCESS_SEQUENTIAL,
                                                 "fail_on", VIPS_FAIL_ON_ERROR, NULL);
    if (!image) return -1;
    // Convert to sRGB first so CMYK or 16-bit inputs save correctly as 8-bit web formats.
    VipsImage *srgb = NULL;
    int rc = vips_colourspace(image, &srgb, VIPS_INTERPRETATION_sRGB, NULL);
    if (rc == 0) {
        VipsImage *eight = NULL;
        rc = vips_cast(srgb, &eight, VIPS_FORMAT_UCHAR, NULL);
        if (rc == 0) {
            rc = save(eight, output);
            if (rc == 0) {
                *out_width = vips_image_get_width(eight);
                *out_height = vips_image_get_height(eight);
            }
            g_object_unref(eight);
        }
        g_object_unref(srgb);
    }
    g_object_unref(image);
    return rc;
}

int cvips_save_pixels(const unsigned char *pixels, int width, int height, int bands, const char *output) {
    VipsImage *image = vips_image_new_from_memory(pixels, (size_t)width * height * bands, width, height,
                                                  bands, VIPS_FORMAT_UCHAR);
    if (!image) return -1;
    int rc = save(image, output);
    g_object_unref(image);
    return rc;
}

int cvips_can_save(const char *output) {
    if (vips_foreign_find_save(output) != NULL) return 1;
    vips_error_clear();  // "not a known format" is an answer here, not an error to report later
    return 0;
}

void cvips_take_error(char *buffer, size_t size) {
    if (size == 0) return;
    const char *text = vips_error_buffer();
    strncpy(buffer, text ? text : "", size - 1);
    buffer[size - 1] = '\0';
    vips_error_clear();
}

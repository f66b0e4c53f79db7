/*
 * stb_impl.c - stb_image and stb_image_resize, built from Debian's headers
 * into the fuzzers with the same coverage and sanitizers as Ember (see
 * fuzz/CMakeLists.txt). Not part of the library: the library links libstb.
 */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>

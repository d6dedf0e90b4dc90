#pragma once
#if __has_include(<brotli/encode.h>)
#include <brotli/encode.h>        /* libbrotli-dev (pkg-config libbrotlienc) */
#else
#error "brotli/encode.h not found: apt-get install libbrotli-dev pkg-config"
#endif

/* The CHECK macro of the C and C++ API tests: count a check, and report a
 * failing one with its place and the library's last error message. The
 * including file defines `static int passed, failed;` and prints them. */
#ifndef WSCLIENT_TEST_CHECK_H
#define WSCLIENT_TEST_CHECK_H

#include <stdio.h>

#include "wsclient.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
                    ws_last_error_message());                                                      \
        }                                                                                          \
    } while (0)

#endif

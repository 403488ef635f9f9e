// RAPPEL_CHECK: a broken invariant aborts, in release builds too. Never use
// it on untrusted input: validate and return a Status.
#pragma once

#include <cstdio>
#include <cstdlib>

#define RAPPEL_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) [[unlikely]] {                                                         \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

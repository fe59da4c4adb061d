/*
 * ndpar/export.h - NDP_API, the mark on every public function.
 *
 * The library's sources are compiled with hidden visibility, so a shared
 * libndpar exports exactly the functions marked NDP_API (the ndp_* API) and
 * none of the internal ndp__* ones. The rule:
 *  - GCC/Clang on ELF/Mach-O: NDP_API is visibility("default");
 *  - Windows: the build defines NDP_BUILDING for the library's own sources
 *    (dllexport); users of the DLL define nothing (dllimport); users of a
 *    static libndpar define NDP_STATIC (NDP_API empty);
 *  - any other compiler: NDP_API is empty.
 */
#ifndef NDPAR_EXPORT_H
#define NDPAR_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(NDP_STATIC)
#    define NDP_API
#  elif defined(NDP_BUILDING)
#    define NDP_API __declspec(dllexport)
#  else
#    define NDP_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define NDP_API __attribute__((visibility("default")))
#else
#  define NDP_API
#endif

#endif /* NDPAR_EXPORT_H */

/* version.h -- the agentmem version, at compile time and at run time.
 *
 * AM_VERSION_NUMBER is major*10000 + minor*100 + patch, so that a program can
 * test `#if AM_VERSION_NUMBER >= 102` for a feature. am_version_number()
 * reports the library actually linked, which may be newer than the headers a
 * program was compiled against.
 */
#ifndef AGENTMEM_VERSION_H
#define AGENTMEM_VERSION_H

#define AM_VERSION_MAJOR 0
#define AM_VERSION_MINOR 1
#define AM_VERSION_PATCH 0
#define AM_VERSION_STRING "0.1.0"
#define AM_VERSION_NUMBER \
    (AM_VERSION_MAJOR * 10000 + AM_VERSION_MINOR * 100 + AM_VERSION_PATCH)

/* Visibility: the library is built with -fvisibility=hidden and only
 * declarations marked AM_API are exported. */
#if defined(_WIN32) && defined(AM_BUILDING_DLL)
#define AM_API __declspec(dllexport)
#elif defined(__GNUC__)
#define AM_API __attribute__((visibility("default")))
#else
#define AM_API
#endif

#if defined(__GNUC__)
#define AM_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define AM_DEPRECATED(msg)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the linked library as "major.minor.patch". Static string
 * owned by the library, never NULL. No errors. Thread safety: safe. */
AM_API const char *am_version(void);

/* The version of the linked library as AM_VERSION_NUMBER would spell it.
 * No errors. Thread safety: safe. */
AM_API int am_version_number(void);

#ifdef __cplusplus
}
#endif
#endif

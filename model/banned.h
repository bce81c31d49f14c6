/*
 * banned.h - force-included into every occ translation unit.
 *
 * These libc calls either cannot bound their output or hide errors. Using one
 * is a compile error; use snprintf, occ_strbuf, strtol with checks, or the
 * helpers in model/util.h instead.
 */
#ifndef OCC_BANNED_H
#define OCC_BANNED_H

/*
 * Pull in the headers that declare (and, with optimisation, define inline)
 * the banned functions first: this file is force-included before any other,
 * and a macro defined before <stdlib.h> would break glibc's inline atoi.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OCC_BANNED(func) sorry_##func##_is_banned_in_occ

#undef strcpy
#define strcpy(a, b) OCC_BANNED(strcpy)
#undef strcat
#define strcat(a, b) OCC_BANNED(strcat)
#undef strncpy
#define strncpy(a, b, n) OCC_BANNED(strncpy)
#undef strncat
#define strncat(a, b, n) OCC_BANNED(strncat)
#undef sprintf
#define sprintf(...) OCC_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) OCC_BANNED(vsprintf)
#undef strtok
#define strtok(a, b) OCC_BANNED(strtok)
#undef atoi
#define atoi(a) OCC_BANNED(atoi)
#undef atol
#define atol(a) OCC_BANNED(atol)
#undef gets
#define gets(a) OCC_BANNED(gets)

#endif

#pragma once
/* Debian's OpenBLAS is built with NO_LAPACKE: liblapacke is linked on its own. */
#include <lapacke.h>

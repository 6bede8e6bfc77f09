// OpenBLAS's CBLAS interface (libopenblas-dev). The thread-count calls are declared here too,
// since the generic cblas.h that a system may pick through alternatives lacks them.
#pragma once
#include <cblas.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

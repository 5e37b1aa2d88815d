#pragma once
/* C kernels of the cpu backend. Filled in by the cpu backend work. */
int lockstep_kernels_version(void);

#pragma once
#if __has_include(<mpi.h>)
#include <mpi.h>                  /* via pkg-config mpich: -I/usr/include/<triple>/mpich */
#else
#error "mpi.h not found: apt-get install mpich libmpich-dev pkg-config"
#endif

/* MPI handles and constants are macros with casts (MPICH: ((MPI_Comm)0x44000000), (void *)-1, …)
   that Swift cannot import: expose them as functions. */
static inline MPI_Comm     sensorium_MPI_COMM_WORLD(void)   { return MPI_COMM_WORLD; }
static inline MPI_Datatype sensorium_MPI_FLOAT(void)        { return MPI_FLOAT; }
static inline MPI_Datatype sensorium_MPI_DOUBLE(void)       { return MPI_DOUBLE; }
static inline MPI_Op       sensorium_MPI_SUM(void)          { return MPI_SUM; }
static inline void        *sensorium_MPI_IN_PLACE(void)     { return MPI_IN_PLACE; }
static inline MPI_Status  *sensorium_MPI_STATUS_IGNORE(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Errhandler sensorium_MPI_ERRORS_RETURN(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request  sensorium_MPI_REQUEST_NULL(void) { return MPI_REQUEST_NULL; }
static inline int          sensorium_MPI_SUCCESS(void)      { return MPI_SUCCESS; }
static inline int          sensorium_MPI_THREAD_FUNNELED(void) { return MPI_THREAD_FUNNELED; }
static inline int          sensorium_MPI_MAX_ERROR_STRING(void) { return MPI_MAX_ERROR_STRING; }

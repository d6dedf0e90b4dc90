#pragma once
#if __has_include(<hdf5.h>)
#include <hdf5.h>                 /* via pkg-config: -I/usr/include/hdf5/serial */
#elif __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>     /* Debian's serial flavour, without pkg-config */
#else
#error "hdf5.h not found: apt-get install libhdf5-dev pkg-config"
#endif

/* HDF5 "constants" that are macros or C globals Swift 6 cannot import: expose them as functions. */
static inline unsigned swift_H5F_ACC_TRUNC(void)  { return H5F_ACC_TRUNC; }
static inline unsigned swift_H5F_ACC_EXCL(void)   { return H5F_ACC_EXCL; }
static inline unsigned swift_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned swift_H5F_ACC_RDWR(void)   { return H5F_ACC_RDWR; }
static inline hid_t    swift_H5P_DEFAULT(void)    { return H5P_DEFAULT; }
static inline hid_t    swift_H5S_ALL(void)        { return H5S_ALL; }
static inline hid_t    swift_H5E_DEFAULT(void)    { return H5E_DEFAULT; }
static inline hid_t    swift_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t    swift_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t    swift_H5T_NATIVE_FLOAT(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t    swift_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t    swift_H5T_NATIVE_INT8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t    swift_H5T_NATIVE_INT16(void)  { return H5T_NATIVE_INT16; }
static inline hid_t    swift_H5T_NATIVE_INT32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t    swift_H5T_NATIVE_INT64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t    swift_H5T_NATIVE_UINT8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t    swift_H5T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t    swift_H5T_NATIVE_UINT32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t    swift_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t    swift_H5T_C_S1(void)          { return H5T_C_S1; }

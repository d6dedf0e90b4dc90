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

/* ---- Added for SensoriumData's HDF5 layer ---- */
#include <stdio.h>
#include <string.h>

static inline size_t swift_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t  swift_H5T_NATIVE_HBOOL(void) { return H5T_NATIVE_HBOOL; }

/* Turns off HDF5's automatic error printing for the calling thread (in thread-safe builds the
   setting is per thread, so call it on every thread before using HDF5). */
static inline void swift_H5E_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct { char *buf; size_t cap; size_t len; } swift_h5_errbuf;

static inline herr_t swift_h5_walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    swift_h5_errbuf *b = (swift_h5_errbuf *)data;
    char minor[160] = "";
    (void)n;
    if (e->min_num > 0) H5Eget_msg(e->min_num, NULL, minor, sizeof minor);
    if (b->len + 1 < b->cap) {
        int w = snprintf(b->buf + b->len, b->cap - b->len, "%s%s(): %s%s%s",
                         b->len ? "; " : "", e->func_name ? e->func_name : "?",
                         e->desc ? e->desc : "", minor[0] ? " - " : "", minor);
        if (w > 0) b->len += (size_t)w < b->cap - b->len ? (size_t)w : b->cap - b->len - 1;
    }
    return 0;
}

/* Writes the calling thread's HDF5 error stack (outermost call first) into buf as one line, then
   clears the stack. Returns the number of characters written. */
static inline size_t swift_H5E_collect(char *buf, size_t cap) {
    swift_h5_errbuf b = { buf, cap, 0 };
    if (cap > 0) buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, swift_h5_walk_cb, &b);
    H5Eclear2(H5E_DEFAULT);
    return b.len;
}

static inline herr_t swift_h5_count_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)loc; (void)name; (void)info;
    *(hsize_t *)data += 1;
    return 0;
}

/* Number of attributes attached to an object, or -1 on failure. */
static inline long long swift_H5A_count(hid_t obj) {
    hsize_t count = 0;
    if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, swift_h5_count_cb, &count) < 0) return -1;
    return (long long)count;
}

/* ---- Added for hostile-input checks and checksummed files ---- */
static inline hid_t swift_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline H5F_libver_t swift_H5F_LIBVER_LATEST(void) { return H5F_LIBVER_LATEST; }

/* The dataset's filter pipeline: bit 1 when a filter may expand data when it is read (anything but
   Fletcher32 and shuffle: deflate, szip, n-bit, scale-offset, plugins), bit 2 when its chunks carry a
   Fletcher32 checksum; -1 on failure. */
enum { SWIFT_H5D_EXPANDING_FILTER = 1, SWIFT_H5D_FLETCHER32 = 2 };
static inline int swift_H5D_filter_flags(hid_t dset) {
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return -1;
    int n = H5Pget_nfilters(dcpl);
    int result = n < 0 ? -1 : 0;
    for (int i = 0; i < n; i++) {
        unsigned flags = 0;
        size_t nelmts = 0;
        unsigned values[1] = { 0 };
        char name[2] = "";
        H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelmts, values, sizeof name, name, NULL);
        if (f < 0) { result = -1; break; }
        if (f == H5Z_FILTER_FLETCHER32) result |= SWIFT_H5D_FLETCHER32;
        else if (f != H5Z_FILTER_SHUFFLE) result |= SWIFT_H5D_EXPANDING_FILTER;
    }
    H5Pclose(dcpl);
    return result;
}

#if H5_VERSION_GE(1, 12, 0)
typedef H5O_info2_t swift_h5_object_info;
#else
typedef H5O_info_t swift_h5_object_info;
#endif

static inline herr_t swift_h5_verify_cb(hid_t obj, const char *name, const swift_h5_object_info *info, void *data) {
    (*(long long *)data)++;
    if (info->type == H5O_TYPE_DATASET) {
        hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
        if (d < 0) return -1;
        H5Dclose(d);
    }
    return 0;
}

/* Loads every object header of the file (libhdf5 verifies their checksums in files of the newest
   format) and opens every dataset. Returns the number of objects, or -1 on failure (error stack set). */
static inline long long swift_H5_verify_objects(hid_t file) {
    long long n = 0;
#if H5_VERSION_GE(1, 12, 0)
    if (H5Ovisit3(file, H5_INDEX_NAME, H5_ITER_INC, swift_h5_verify_cb, &n, H5O_INFO_BASIC) < 0) return -1;
#elif H5_VERSION_GE(1, 10, 3)
    if (H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, swift_h5_verify_cb, &n, H5O_INFO_BASIC) < 0) return -1;
#else
    if (H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, swift_h5_verify_cb, &n) < 0) return -1;
#endif
    return n;
}

static inline hid_t swift_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }

/* Marks the file descriptor of an open file close-on-exec (sec2 driver, the default; other
   drivers are left alone). libhdf5 opens files without O_CLOEXEC and holds an flock() on them, so
   a child process forked and exec'd while the file is open (MPI's singleton start-up, any spawned
   tool) would keep the descriptor, and with it the lock, after we close the file: the next open of
   that file then fails with "unable to lock the file". Returns 0 on success or when not sec2. */
#include <fcntl.h>
static inline int swift_H5F_set_cloexec(hid_t fid) {
    hid_t fapl = H5Fget_access_plist(fid);
    if (fapl < 0) return -1;
    hid_t driver = H5Pget_driver(fapl);
    H5Pclose(fapl);
    if (driver != H5FD_SEC2) return 0;
    void *handle = NULL;
    if (H5Fget_vfd_handle(fid, H5P_DEFAULT, &handle) < 0 || handle == NULL) return -1;
    int fd = *(int *)handle;
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

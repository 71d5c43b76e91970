package hugepages

import "syscall"

// madvHugepage is MADV_HUGEPAGE from <sys/mman.h>.
const madvHugepage = 14

func advise(b []byte) { _ = syscall.Madvise(b, madvHugepage) }

# CMake toolchain file: cross-build for 64-bit ARM Linux (aarch64) on a Debian amd64 host
# with Debian's cross compiler (g++-aarch64-linux-gnu) and multiarch arm64 libraries
# (dpkg --add-architecture arm64; apt-get install libopenblas-dev:arm64 ...).
# scripts/test-arm64.sh installs all of that, configures build-arm64/ with this file and
# runs the kernel and layer tests under qemu-user.
#
# At link time the C library, libstdc++ and libgomp come from /usr/aarch64-linux-gnu and
# /usr/lib/gcc-cross (the cross compiler's own packages), everything else from
# /usr/lib/aarch64-linux-gnu (multiarch :arm64 packages); headers from /usr/include and
# /usr/include/aarch64-linux-gnu. The cross compiler's sysroot is / and it searches all
# of these itself; CMake must only be kept from picking anything from
# /usr/lib/x86_64-linux-gnu, which CMAKE_LIBRARY_ARCHITECTURE and the pkg-config search
# path below see to. At run time everything comes from the multiarch packages (below).

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(DENOISE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER   ${DENOISE_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${DENOISE_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${DENOISE_CROSS_TRIPLE})

# No CMAKE_SYSROOT / CMAKE_FIND_ROOT_PATH: everything lives under / (multiarch).
# CMAKE_LIBRARY_ARCHITECTURE makes find_library/find_path/find_package search
# /usr/lib/aarch64-linux-gnu (and /usr/lib/aarch64-linux-gnu/cmake), never the amd64 dirs.
# Programs (pkg-config, the emulator) are the host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# pkg-config (pkg_check_modules: openblas, libhwy, stb) must read the arm64 .pc files
# only, never the amd64 ones in /usr/lib/x86_64-linux-gnu/pkgconfig. The toolchain file
# is read again for every try_compile, so setting the environment here covers those too.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${DENOISE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
unset(ENV{PKG_CONFIG_SYSROOT_DIR})

# Run target executables (gtest_discover_tests at build time, ctest, add_test) under
# qemu-user, with the arm64 dynamic loader and libraries of the multiarch packages
# (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu: libc6:arm64, libstdc++6:arm64,
# libgomp1:arm64, ...). "-L /" means no interpreter prefix and overrides a QEMU_LD_PREFIX
# in the environment: QEMU_LD_PREFIX=/usr/aarch64-linux-gnu would take ld.so from the
# cross libc (libc6-arm64-cross, 2.36-8cross1) while libc.so.6 still comes from the
# multiarch libc6:arm64 (2.36-9+deb12uN) next to the other libraries, and that mismatched
# pair hangs at start-up (seen with OpenBLAS's thread server: 100% CPU, no output).
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(DENOISE_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
  if(DENOISE_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${DENOISE_QEMU_AARCH64};-L;/")
  endif()
endif()

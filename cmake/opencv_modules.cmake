# OpenCV's core, imgproc and photo modules, the three that the classical baselines use
# (eval/baselines.cpp), from Debian's libopencv-core-dev, libopencv-imgproc-dev and
# libopencv-photo-dev. Found by hand because OpenCV's own CMake package comes only with
# libopencv-dev, which installs every module and with them VTK, GDAL, FFmpeg and Qt:
# about 500 MB more on a fresh machine. Sets OpenCV_LIBS (imported targets) and
# OpenCV_VERSION.
find_path(OpenCV_INCLUDE_DIR opencv2/photo.hpp PATH_SUFFIXES opencv4 REQUIRED)
set(OpenCV_LIBS)
foreach(module core imgproc photo)
  if(NOT TARGET denoise_opencv_${module})
    find_library(OpenCV_${module}_LIBRARY opencv_${module} REQUIRED)
    add_library(denoise_opencv_${module} UNKNOWN IMPORTED)
    set_target_properties(denoise_opencv_${module} PROPERTIES
      IMPORTED_LOCATION ${OpenCV_${module}_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${OpenCV_INCLUDE_DIR})
  endif()
  list(APPEND OpenCV_LIBS denoise_opencv_${module})
endforeach()
file(STRINGS ${OpenCV_INCLUDE_DIR}/opencv2/core/version.hpp opencv_version_lines
     REGEX "^#define CV_VERSION_(MAJOR|MINOR|REVISION) +[0-9]+")
foreach(part MAJOR MINOR REVISION)
  string(REGEX REPLACE ".*#define CV_VERSION_${part} +([0-9]+).*" "\\1" OpenCV_VERSION_${part} "${opencv_version_lines}")
endforeach()
set(OpenCV_VERSION "${OpenCV_VERSION_MAJOR}.${OpenCV_VERSION_MINOR}.${OpenCV_VERSION_REVISION}")

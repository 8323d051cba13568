#pragma once
// DYNX_API marks the symbols that libdynx.so exports; everything else has hidden visibility.

#if defined(_WIN32)
#  if defined(DYNX_BUILDING_LIBRARY)
#    define DYNX_API __declspec(dllexport)
#  else
#    define DYNX_API __declspec(dllimport)
#  endif
#else
#  define DYNX_API __attribute__((visibility("default")))
#endif

# Warnings are errors everywhere; sanitizers are a build-wide switch (see CMakePresets.json).
add_library(llorch_options INTERFACE)
target_compile_options(llorch_options INTERFACE
  -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion -Wno-sign-conversion
  -Wno-missing-field-initializers  # designated initialisers leave defaulted members out on purpose
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wimplicit-fallthrough)
target_include_directories(llorch_options INTERFACE ${CMAKE_SOURCE_DIR}/src ${CMAKE_BINARY_DIR}/generated)

if(LLORCH_SANITIZE)
  set(_llorch_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(llorch_options INTERFACE ${_llorch_san})
  target_link_options(llorch_options INTERFACE ${_llorch_san})
endif()

if(LLORCH_FUZZ)
  set(_llorch_fuzz -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  target_compile_options(llorch_options INTERFACE ${_llorch_fuzz})
  target_link_options(llorch_options INTERFACE -fsanitize=address,undefined)
endif()

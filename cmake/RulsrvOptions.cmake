# Compiler flags shared by every target.
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wno-unused-parameter -Wformat=2 -fno-common)
add_compile_definitions(_GNU_SOURCE)
if(RULSRV_WERROR)
  add_compile_options(-Werror)
endif()
if(RULSRV_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

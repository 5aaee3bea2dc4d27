# rulsrv_add_plugin(NAME SOURCES a.c b.c LIBS x y): a plugin .so as rulsrv-plugins(7) wants it:
# no "lib" prefix, hidden visibility (only the descriptor is exported), no undefined symbols.
function(rulsrv_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${RULSRV_PLUGIN_OUTPUT_DIR})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/core/include)
  # Static libraries linked in (rulsrv_lib) stay private: the descriptor is the only export.
  target_link_options(${name} PRIVATE -Wl,-z,defs -Wl,--exclude-libs,ALL)
  target_link_libraries(${name} PRIVATE ${P_LIBS})
  # rulsrv refuses group- or world-writable plugins; a umask of 002 would produce them.
  add_custom_command(TARGET ${name} POST_BUILD COMMAND chmod go-w $<TARGET_FILE:${name}>)
  install(TARGETS ${name} LIBRARY DESTINATION ${RULSRV_PLUGIN_INSTALL_DIR})
endfunction()

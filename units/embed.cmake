# units/embed.cmake - compile the unit templates into occ, so `occ install`
# needs no source checkout.
#
# occ_embed_units(<output.c> <symbol> <file> [<symbol> <file> ...]) writes a C
# file that defines `const unsigned char <symbol>[]` holding each file's
# bytes, NUL-terminated (declared in drivers/service-int.h). It runs at
# configure time; a changed template re-runs configure, and the output is
# replaced only when its content changes, so nothing else rebuilds.
function(occ_embed_units out)
  set(body "/* Generated from units/ by units/embed.cmake: do not edit. */\n")
  string(APPEND body "#include \"drivers/service-int.h\"\n")
  set(args ${ARGN})
  list(LENGTH args n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET args ${i} sym)
    list(GET args ${j} file)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
    file(READ ${file} hex HEX)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
    # Twelve bytes a line (CMake's regex has no {n}).
    string(REPEAT "0x..," 12 row)
    string(REGEX REPLACE "(${row})" "\\1\n\t" hex "${hex}")
    string(APPEND body "\nconst unsigned char ${sym}[] = {\n\t${hex}0x00\n};\n")
  endforeach()
  file(WRITE ${out}.tmp "${body}")
  configure_file(${out}.tmp ${out} COPYONLY)
endfunction()

# nncc_add_model(TARGET MODEL [NAME name] [OPTIONS flag...] [CALIB x.npy...])
#
# Compiles MODEL (ONNX or IR text; relative to the current source folder)
# with nncc into NAME.o and NAME.h under the current binary folder's
# nncc/NAME/, adds the object to TARGET's sources and that folder to its
# include path, so that TARGET's code can `#include "NAME.h"` and call
# NAME_run. NAME defaults to MODEL's stem made a C identifier. OPTIONS are
# nncc's flags (-O3, --prune=0.9, ...; not -o, -H or --name, which this
# function sets); CALIB files are passed as --calib (one per graph input)
# and tracked like the model. The object is rebuilt when the model, a
# CALIB file, the options or nncc itself change. The object needs only
# libm, which TARGET links itself (target_link_libraries(TARGET PRIVATE m)).
#
# In nncc's own build tree the nncc target is used; elsewhere the
# imported nncc::nncc of find_package(nncc).
function(nncc_add_model target model)
  cmake_parse_arguments(PARSE_ARGV 2 ARG "" "NAME" "OPTIONS;CALIB")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nncc_add_model: unknown arguments "
      "'${ARG_UNPARSED_ARGUMENTS}' (expected NAME, OPTIONS or CALIB)")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "nncc_add_model: '${target}' is not a target")
  endif()
  if(TARGET nncc::nncc)
    set(compiler nncc::nncc)
  elseif(TARGET nncc)
    set(compiler nncc)
  else()
    message(FATAL_ERROR "nncc_add_model: no nncc target (find_package(nncc))")
  endif()
  get_filename_component(model "${model}" ABSOLUTE
                         BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}")
    message(FATAL_ERROR "nncc_add_model: model '${model}' does not exist")
  endif()
  if(ARG_NAME)
    set(name "${ARG_NAME}")
  else()
    get_filename_component(name "${model}" NAME_WE)
    string(MAKE_C_IDENTIFIER "${name}" name)
  endif()
  string(MAKE_C_IDENTIFIER "${name}" cname)
  if(NOT cname STREQUAL name)
    message(FATAL_ERROR "nncc_add_model: NAME '${name}' is not a C identifier")
  endif()
  foreach(opt IN LISTS ARG_OPTIONS)
    if(opt MATCHES "^(-o|-H|--emit-header|--name|-S|--emit-llvm)(=.*)?$")
      message(FATAL_ERROR "nncc_add_model: OPTIONS may not hold '${opt}': "
        "the function writes NAME.o and NAME.h itself")
    endif()
  endforeach()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/nncc/${name}")
  set(obj "${dir}/${name}.o")
  set(hdr "${dir}/${name}.h")
  set(calib_args "")
  set(calib_files "")
  foreach(c IN LISTS ARG_CALIB)
    get_filename_component(c "${c}" ABSOLUTE
                           BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND calib_args --calib "${c}")
    list(APPEND calib_files "${c}")
  endforeach()
  # The options as a file that changes only when they do: every generator
  # then rebuilds the object on a new option, not only Ninja.
  set(stamp "${dir}/${name}.options")
  string(REPLACE ";" "\n" opts "${ARG_OPTIONS};${calib_args}")
  file(CONFIGURE OUTPUT "${stamp}" CONTENT "${opts}\n" @ONLY)

  add_custom_command(
    OUTPUT "${obj}" "${hdr}"
    COMMAND ${compiler} "${model}" ${ARG_OPTIONS} ${calib_args}
            --name ${name} -o "${obj}" -H "${hdr}"
    DEPENDS "${model}" ${calib_files} "${stamp}" "$<TARGET_FILE:${compiler}>"
    COMMENT "nncc ${name}: compiling ${model}"
    VERBATIM)
  set_source_files_properties("${obj}" PROPERTIES
    EXTERNAL_OBJECT TRUE GENERATED TRUE)
  target_sources(${target} PRIVATE "${obj}" "${hdr}")
  target_include_directories(${target} PRIVATE "${dir}")
endfunction()

# bpf_object(NAME SOURCE): compiles a CO-RE BPF program with clang and embeds it
# as a bpftool-generated skeleton. Gives an INTERFACE target NAME_skel whose
# include directory holds NAME.skel.h (after libbpf-bootstrap's FindBpfObject).

find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(BPF_VENDORED_VMLINUX ${CMAKE_SOURCE_DIR}/bpf/vmlinux/x86/vmlinux.h)
set(BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_GEN_DIR})

# vmlinux.h from the running kernel's BTF when it has one; the vendored copy
# (generated from a 6.18 kernel) otherwise. CO-RE relocates either at load time.
if(EXISTS /sys/kernel/btf/vmlinux)
  add_custom_command(
    OUTPUT ${BPF_GEN_DIR}/vmlinux.h
    COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${BPF_GEN_DIR}/vmlinux.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${BPF_GEN_DIR}/vmlinux.h.tmp ${BPF_GEN_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from /sys/kernel/btf/vmlinux"
    VERBATIM)
else()
  message(STATUS "agenttrace: /sys/kernel/btf/vmlinux missing; using the vendored vmlinux.h")
  add_custom_command(
    OUTPUT ${BPF_GEN_DIR}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E copy ${BPF_VENDORED_VMLINUX} ${BPF_GEN_DIR}/vmlinux.h
    DEPENDS ${BPF_VENDORED_VMLINUX}
    VERBATIM)
endif()

function(bpf_object name src)
  set(obj ${BPF_GEN_DIR}/${name}.bpf.o)
  set(skel ${BPF_GEN_DIR}/${name}.skel.h)
  get_filename_component(src_abs ${src} ABSOLUTE)
  get_filename_component(src_dir ${src_abs} DIRECTORY)
  file(GLOB bpf_headers ${src_dir}/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${BPF_GEN_DIR} -I${src_dir} -c ${src_abs} -o ${obj}
    DEPENDS ${src_abs} ${bpf_headers} ${BPF_GEN_DIR}/vmlinux.h
    COMMENT "Compiling BPF program ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${BPF_GEN_DIR})
endfunction()

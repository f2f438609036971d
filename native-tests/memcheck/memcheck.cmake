# The C side under tools (issue 7): every C test (native-tests/test_*.c) runs once more
#   - under valgrind memcheck (memcheck_<test>): invalid reads/writes, use of uninitialised memory, bad frees and
#     definite leaks, in our C code and everywhere else in the process (libfiberws.so included);
#   - built with -fsanitize=address,undefined (asan_<test>, with wsclient.c instrumented too): overflows of stack and
#     global buffers as well, which memcheck cannot see, and undefined behaviour in our C code.
# Both see misuse of the buffers the library lends (they are malloc memory), e.g. a read past a message or after
# its lending period.
#
# The NativeAOT runtime (GC, thread suspension by signals) runs clean under memcheck; the one suppression
# (glibc.supp) is a 40-byte list glibc's loader keeps when the library dlopen()s OpenSSL for TLS.
# Only definite leaks are errors (--errors-for-leak-kinds=definite). "Possibly lost" blocks are reported by valgrind
# for the runtime's own threads, alive at exit (glibc's DTV, reachable only through an interior pointer), and for
# zlib state the GC heap points into; none is in our C code. LeakSanitizer is off in the ASan build (detect_leaks=0):
# it does not scan the GC heap, so every block the library keeps through a managed object looks leaked to it;
# memcheck, which scans all mapped memory, checks leaks instead.
#
# Time: ~50 s under memcheck for the six tests (test_compression ~30 s, zlib running on valgrind's CPU), a few
# seconds with ASan. valgrind is installed by ./build.sh test (Debian package).

file(GLOB FWS_C_TEST_SOURCES RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_*.c)

find_program(VALGRIND valgrind)

add_library(wsclient_asan STATIC ${CMAKE_CURRENT_SOURCE_DIR}/wsclient.c)
set(FWS_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
target_compile_options(wsclient_asan PRIVATE -Wall -Wextra -Werror ${FWS_SANITIZE})

foreach(src ${FWS_C_TEST_SOURCES})
    get_filename_component(t ${src} NAME_WE)
    if(NOT TARGET ${t})
        continue()
    endif()

    if(VALGRIND)
        add_test(NAME memcheck_${t}
            COMMAND ${VALGRIND} --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
                    --suppressions=${CMAKE_CURRENT_SOURCE_DIR}/memcheck/glibc.supp
                    --show-leak-kinds=definite --fair-sched=yes --num-callers=40 $<TARGET_FILE:${t}>)
    else()
        add_test(NAME memcheck_${t} COMMAND sh -c "echo 'valgrind not found: apt-get install valgrind (./build.sh test does)'; exit 1")
    endif()
    set_tests_properties(memcheck_${t} PROPERTIES TIMEOUT 300 LABELS memcheck)

    get_target_property(libs ${t} LINK_LIBRARIES)
    list(TRANSFORM libs REPLACE "^wsclient$" wsclient_asan)
    add_executable(asan_${t} ${src})
    target_link_libraries(asan_${t} PRIVATE ${libs})
    target_compile_options(asan_${t} PRIVATE -Wall -Wextra -Werror ${FWS_SANITIZE})
    target_link_options(asan_${t} PRIVATE ${FWS_SANITIZE})
    add_test(NAME asan_${t} COMMAND asan_${t})
    set_tests_properties(asan_${t} PROPERTIES TIMEOUT 120 LABELS asan
        ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endforeach()

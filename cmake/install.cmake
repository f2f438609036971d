# cmake --install [--prefix DIR]: the relocatable install tree of STYLE §6.
#
#   include/fiberws.h
#   lib/libfiberws.so -> libfiberws.so.0 -> libfiberws.so.0.1.0
#   lib/libfiberws.a                                   (sealed; only when FIBERWS_STATIC)
#   lib/cmake/fiberws/fiberwsConfig.cmake, fiberwsConfigVersion.cmake
#   lib/pkgconfig/fiberws.pc, fiberws-static.pc       (fiberws-static.pc only when FIBERWS_STATIC)
#
# No file holds an absolute path: the CMake config finds the prefix from its own location (PACKAGE_PREFIX_DIR)
# and the .pc files from ${pcfiledir}, so the tree can be moved or packaged as it is.
# Included from the root CMakeLists.txt after FWS_SO, FWS_GEN_DIR and (with FIBERWS_STATIC) FWS_STATIC_A are set.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FWS_PKG_DIR ${CMAKE_BINARY_DIR}/package)

install(FILES ${FWS_GEN_DIR}/include/fiberws.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The two symlinks are installed as symlinks (relative, as the build creates them).
install(FILES ${FWS_SO} ${FWS_LIB_DIR}/libfiberws.so.${PROJECT_VERSION_MAJOR} ${FWS_LIB_DIR}/libfiberws.so
        DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(FIBERWS_STATIC)
    install(FILES ${FWS_STATIC_A} DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()

# CMake package: fiberws::fiberws (shared) and fiberws::fiberws_static.
set(FWS_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fiberws)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fiberwsConfig.cmake.in ${FWS_PKG_DIR}/fiberwsConfig.cmake
    INSTALL_DESTINATION ${FWS_CMAKE_INSTALL_DIR}
    PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
# Same major version, minor.patch at least the one asked for; a 64-bit build only.
write_basic_package_version_file(${FWS_PKG_DIR}/fiberwsConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${FWS_PKG_DIR}/fiberwsConfig.cmake ${FWS_PKG_DIR}/fiberwsConfigVersion.cmake
        DESTINATION ${FWS_CMAKE_INSTALL_DIR})

# pkg-config: fiberws.pc links the shared library; fiberws-static.pc links libfiberws.a (a plain -lfiberws would pick
# the .so, which the linker prefers when both are present). prefix is found from the .pc file's own directory.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(FWS_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")   # not relocatable: the layout itself is absolute
    set(FWS_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
    set(FWS_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
    file(RELATIVE_PATH _fws_pc_up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
    set(FWS_PC_PREFIX "\${pcfiledir}/${_fws_pc_up}")
    set(FWS_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
    set(FWS_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/fiberws.pc.in ${FWS_PKG_DIR}/fiberws.pc @ONLY)
install(FILES ${FWS_PKG_DIR}/fiberws.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(FIBERWS_STATIC)
    configure_file(${CMAKE_CURRENT_LIST_DIR}/fiberws-static.pc.in ${FWS_PKG_DIR}/fiberws-static.pc @ONLY)
    install(FILES ${FWS_PKG_DIR}/fiberws-static.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()

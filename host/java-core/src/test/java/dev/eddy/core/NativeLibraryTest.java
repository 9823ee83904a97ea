package dev.eddy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.junit.jupiter.api.Test;

class NativeLibraryTest {

    @Test
    void aMissingLibraryGivesAClearError() {
        assumeTrue(System.getenv(NativeLibrary.PATH_ENV) == null);
        // what NativeOperator.backend() throws when nothing is configured (NativeStubTest may
        // have loaded a stub in this JVM already, so ask the locating step directly)
        assertThatThrownBy(() -> NativeLibrary.doLoad(null, null))
                .isInstanceOf(EddyNativeLoadException.class)
                .hasMessageContaining("-Deddy.native.lib=")
                .hasMessageContaining("EDDY_NATIVE_LIB")
                .hasMessageContaining(System.mapLibraryName("eddy_jni"))
                .hasMessageContaining("java.library.path");
        if (!NativeLibrary.isLoaded()) {
            assertThatThrownBy(NativeOperator::backend).isInstanceOf(EddyNativeLoadException.class);
        }
    }

    @Test
    void aWrongPathIsNamed() {
        assertThatThrownBy(() -> NativeLibrary.doLoad("/nowhere/libeddy_jni.so", null))
                .isInstanceOf(EddyNativeLoadException.class)
                .hasMessageContaining("system property eddy.native.lib points to /nowhere/libeddy_jni.so");
        assertThatThrownBy(() -> NativeLibrary.doLoad(" ", "/nowhere/else.so"))
                .isInstanceOf(EddyNativeLoadException.class)
                .hasMessageContaining("environment variable EDDY_NATIVE_LIB points to /nowhere/else.so");
    }

    /**
     * Two class loaders that each load eddy-core's classes themselves (as Flink's child-first
     * loaders do for two jobs) both get the library: the second through a private copy.
     */
    @Test
    void loadsUnderTwoChildFirstClassLoaders() throws Exception {
        // any JNI-free shared library will do as a stand-in; the JDK ships this empty one
        Path lib = Paths.get(System.getProperty("java.home"), "lib", System.mapLibraryName("syslookup"));
        assumeTrue(Files.isRegularFile(lib), "no stand-in library at " + lib);
        URL classes = NativeLibrary.class.getProtectionDomain().getCodeSource().getLocation();

        try (URLClassLoader first = isolated(classes);
                URLClassLoader second = isolated(classes)) {
            String a = doLoad(first, lib.toString());
            String again = doLoad(first, lib.toString());
            String b = doLoad(second, lib.toString());
            assertThat(a).isEqualTo(lib.toString());
            assertThat(again).isEqualTo(a);
            assertThat(b).isNotEqualTo(a).contains("eddy-jni-");
        }
    }

    private static URLClassLoader isolated(URL classes) {
        return new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader());
    }

    private static String doLoad(ClassLoader loader, String path) throws Exception {
        Class<?> c = Class.forName(NativeLibrary.class.getName(), true, loader);
        assertThat(c).isNotSameAs(NativeLibrary.class);
        Method m = c.getDeclaredMethod("doLoad", String.class, String.class);
        m.setAccessible(true);
        try {
            return (String) m.invoke(null, path, null);
        } catch (InvocationTargetException e) {
            throw (Exception) e.getCause();
        }
    }
}

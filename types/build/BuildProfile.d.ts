/*
 * Declaration of the `BuildProfile` module that hvigor generates for each HAP build
 * (entry/build/<product>/generated/profile/<target>/BuildProfile.ets; `import BuildProfile from 'BuildProfile'`).
 * Only the fields this project reads are declared. The real file is generated from the build mode being built:
 * `debug` / `test` builds have DEBUG = true, `release` builds have BUILD_MODE_NAME = 'release' and DEBUG = false.
 * Written as .d.ts so the ArkTS linter does not lint the declaration itself.
 */
export default class BuildProfile {
  /** 'debug', 'release' or 'test' (ohosTest), or a custom build mode of build-profile.json5. */
  static readonly BUILD_MODE_NAME: string;
  /** The module's `debuggable` for this build: true for debug and test builds, false for release builds. */
  static readonly DEBUG: boolean;
}

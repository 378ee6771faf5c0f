# Sourced by asan.sh and tsan.sh: builds the addon with sanitizer flags into its own folder.
# node-gyp always builds into ./build, so the build runs in a temporary copy of the sources.
#   sanitized_build OUT_DIR CXXFLAGS LDFLAGS   -> OUT_DIR/shoal.node
sanitized_build() {
  local out="$1" cxxflags="$2" ldflags="$3" work
  work="$(mktemp -d)"
  cp -r binding.gyp native scripts package.json "$work"/
  ln -s "$PWD/node_modules" "$work/node_modules"
  if ! (cd "$work" && CXXFLAGS="$cxxflags" LDFLAGS="$ldflags" npm run build:native --silent >"$work/build.log" 2>&1); then
    cat "$work/build.log"
    rm -rf "$work"
    return 1
  fi
  rm -rf "$out" && mkdir -p "$out" && cp "$work/build/Release/shoal.node" "$out"/
  rm -rf "$work"
}

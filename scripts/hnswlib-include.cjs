// Prints the directory holding hnswlib's headers, for binding.gyp. shoal commits no
// third-party source: in a git checkout the headers come from the pinned hnswlib-node
// devDependency (hnswlib 0.8.0); a packed tarball carries a copy in native/vendor/hnswlib,
// made by scripts/vendor-hnswlib.mjs at pack time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const vendored = path.join(__dirname, '..', 'native', 'vendor', 'hnswlib');
if (fs.existsSync(path.join(vendored, 'hnswalg.h'))) {
  process.stdout.write(vendored);
} else {
  let pkg;
  try {
    pkg = require.resolve('hnswlib-node/package.json', { paths: [path.join(__dirname, '..')] });
  } catch {
    process.stderr.write(
      'shoal: hnswlib headers not found. In a checkout run `npm install` (hnswlib-node is a ' +
        'devDependency that ships them); a published package carries native/vendor/hnswlib.\n',
    );
    process.exit(1);
  }
  const dir = path.join(path.dirname(pkg), 'src', 'hnswlib');
  if (!fs.existsSync(path.join(dir, 'hnswalg.h'))) {
    process.stderr.write(`shoal: ${dir} has no hnswalg.h; is hnswlib-node 3.0.0 installed?\n`);
    process.exit(1);
  }
  process.stdout.write(dir);
}

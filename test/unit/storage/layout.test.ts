// Collection names and where each file of a data directory lives.
import { join, relative, sep } from 'node:path';

import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../../src/errors.js';
import {
  MAX_NAME_LENGTH,
  checkCollectionName,
  collectionDir,
  idsPath,
  lockPath,
  manifestPath,
  segmentPath,
} from '../../../src/storage/layout.js';
import { thrown } from '../../support/errors.js';


describe('checkCollectionName', () => {
  it.each([
    'a',
    'Z',
    '0',
    'docs',
    'Docs2024',
    'my-collection',
    'my_collection',
    'v1.2',
    'a.b.c',
    'a-',
    'a_',
    'a.',
    '9lives',
    'A-b_C.d-9',
    'x'.repeat(MAX_NAME_LENGTH),
  ])('accepts %j and returns it unchanged', (name) => {
    expect(checkCollectionName(name)).toBe(name);
  });

  it.each([
    ['the empty string', ''],
    ['"."', '.'],
    ['".."', '..'],
    ['a parent-relative path', '../x'],
    ['a nested parent-relative path', 'a/../../b'],
    ['a forward slash', 'a/b'],
    ['a leading slash', '/a'],
    ['a backslash', 'a\\b'],
    ['a leading dot (hidden file)', '.hidden'],
    ['a leading dash', '-a'],
    ['a leading underscore', '_a'],
    ['".." inside', 'a..b'],
    ['".." at the end', 'ab..'],
    ['129 characters', 'x'.repeat(MAX_NAME_LENGTH + 1)],
    ['a very long name', 'x'.repeat(10_000)],
    ['a space inside', 'my docs'],
    ['a leading space', ' docs'],
    ['a trailing space', 'docs '],
    ['a tab', 'a\tb'],
    ['a trailing newline', 'docs\n'],
    ['a NUL byte', 'a\u0000b'],
    ['a trailing NUL byte', 'docs\u0000'],
    ['a colon (Windows drive / stream)', 'c:docs'],
    ['a star', 'a*'],
    ['a question mark', 'a?'],
    ['non-ASCII letters', 'café'],
    ['an emoji', 'shoal🦈'],
    ['a fullwidth letter', 'ａ'],
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['an object', {}],
    ['an array', ['docs']],
    ['a boolean', true],
    ['a String object', new String('docs')],
    ['a symbol', Symbol('docs')],
  ])('rejects %s with InvalidArgumentError', (_, name) => {
    const err = thrown(() => checkCollectionName(name));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).code).toBe('SHOAL_INVALID_ARGUMENT');
    expect((err as InvalidArgumentError).message.startsWith('name:')).toBe(true);
    expect((err as InvalidArgumentError).argument).toBe('name');
  });

  it.each([
    ['null', null, 'null'],
    ['a number', 42, '42'],
    ['a string', 'a/b', '"a/b"'],
    ['an object', {}, 'an object'],
    ['an array', [1, 2], 'an array of length 2'],
  ])('describes the rejected value (%s) in the message', (_, name, shown) => {
    const err = thrown(() => checkCollectionName(name)) as InvalidArgumentError;
    expect(err.message).toContain(`got ${shown}`);
  });
});

describe('path builders', () => {
  const root = join(sep, 'data', 'shoal');

  it.each([
    ['lockPath', lockPath(root), join(root, 'LOCK')],
    ['manifestPath', manifestPath(root), join(root, 'MANIFEST')],
  ])('puts %s directly under the root', (_, actual, expected) => {
    expect(actual).toBe(expected);
  });

  it.each([
    { name: 'docs', shard: 0, generation: 1 },
    { name: 'a.b-c_d', shard: 3, generation: 42 },
    { name: 'x'.repeat(MAX_NAME_LENGTH), shard: 15, generation: 1_000_000 },
  ])('puts the files of collection $name under root/collections/<name>/', ({ name, shard, generation }) => {
    const dir = collectionDir(root, name);
    expect(dir).toBe(join(root, 'collections', name));
    for (const file of [segmentPath(root, name, shard, generation), idsPath(root, name, shard, generation)]) {
      expect(relative(dir, file).split(sep)).toHaveLength(1);
      expect(relative(root, file).split(sep).slice(0, 2)).toEqual(['collections', name]);
    }
    expect(segmentPath(root, name, shard, generation)).toBe(join(root, 'collections', name, `${shard}-${generation}.seg`));
    expect(idsPath(root, name, shard, generation)).toBe(join(root, 'collections', name, `${shard}-${generation}.ids`));
  });

  it('gives each shard and generation its own file names', () => {
    const paths = new Set<string>();
    for (const shard of [0, 1, 11]) {
      for (const generation of [1, 2, 11]) {
        paths.add(segmentPath(root, 'docs', shard, generation));
        paths.add(idsPath(root, 'docs', shard, generation));
      }
    }
    expect(paths.size).toBe(18);
  });

  it('works with a relative root', () => {
    expect(segmentPath('db', 'docs', 1, 2)).toBe(join('db', 'collections', 'docs', '1-2.seg'));
    expect(manifestPath('db')).toBe(join('db', 'MANIFEST'));
  });
});

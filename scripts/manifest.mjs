#!/usr/bin/env node
// Writes oclif.manifest.json from the built commands (dist/), so start-up reads one file instead of
// importing every command. With --check it compares instead, and fails when the committed manifest is stale.
import {Plugin} from '@oclif/core'
import {readFile, writeFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import {dirname, join} from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const file = join(root, 'oclif.manifest.json')
const plugin = new Plugin({root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true})
await plugin.load()
// Commands in id order: the order oclif finds them in follows the file system's, which varies.
const commands = Object.fromEntries(Object.entries(plugin.manifest.commands).sort(([a], [b]) => a.localeCompare(b)))
// ASCII only (the few other characters as \u escapes, which JSON reads as the same strings): oclif
// reads the manifest at every start, and an ASCII file is read and parsed without UTF-8 decoding.
const fresh = JSON.stringify({...plugin.manifest, commands}, null, 2).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n'

if (process.argv.includes('--check')) {
  const current = await readFile(file, 'utf8').catch(() => '')
  if (current !== fresh) {
    process.stderr.write('oclif.manifest.json is stale: run `npm run build` and commit the result\n')
    process.exit(1)
  }
  process.stdout.write(`oclif.manifest.json is up to date (${Object.keys(plugin.manifest.commands).length} commands)\n`)
} else {
  await writeFile(file, fresh)
  process.stdout.write(`wrote oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)\n`)
}

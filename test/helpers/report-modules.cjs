// Preloaded with --require: on exit, writes the broker client packages the process loaded to the
// file named by WFCTL_MODULES_REPORT, so a test can prove that only the needed one was loaded.
const {writeFileSync} = require('node:fs')
process.on('exit', () => {
  const loaded = Object.keys(require.cache)
    .map((p) => /node_modules\/(ioredis|amqplib|inquirer)\//.exec(p)?.[1])
    .filter(Boolean)
  writeFileSync(process.env.WFCTL_MODULES_REPORT, JSON.stringify([...new Set(loaded)].sort()))
})

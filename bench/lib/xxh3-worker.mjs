// On Node 20 a worker does not inherit the parent's `--import tsx` hooks: tsImport registers them for the .ts body.
import { tsImport } from 'tsx/esm/api'

await tsImport('./xxh3-worker.ts', import.meta.url)

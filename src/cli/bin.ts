// The command-line entry: bin/blockcopy.js runs the compiled form of this file.
import { main } from './main.js'

process.exitCode = await main(process.argv)

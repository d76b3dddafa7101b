// Piscina entry: unpacks nothing and decides nothing; src/chunk does the work.
import { runTask } from '../src/chunk/index.js'

export default runTask

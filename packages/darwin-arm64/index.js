'use strict';
/* Absolute path of the occ binary for macOS arm64; staged into bin/ by
 * packages/scripts/stage.js before npm pack. */
const path = require('path');

module.exports = path.join(__dirname, 'bin', 'occ');

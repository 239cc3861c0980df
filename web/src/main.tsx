import { render } from 'preact';
import { App } from './app.js';
import { Live } from './live.js';
import './styles.css';

const live = new Live();
render(<App live={live} />, document.getElementById('app')!);
void live.start();
addEventListener('pagehide', () => live.stop());

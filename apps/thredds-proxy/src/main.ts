import { runService } from '@climcat/platform';
import { ThreddsProxyModule } from './thredds-proxy.module';

void runService('thredds-proxy', [ThreddsProxyModule]);
